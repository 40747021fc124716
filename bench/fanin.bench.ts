import { Injectable } from '@nestjs/common';
import { Branch, BranchMergeJob, Workflow, WorkflowContext, WorkflowQueue } from '../lib/index.js';
import type { MergeJobData } from '../lib/queue/job-data.js';
import {
  type BenchResult,
  type BenchRow,
  bootBench,
  fmt,
  median,
  now,
  percentile,
  scaled,
  sleep,
  sql,
} from './support.js';

/** Children per fan-in and how many fan-ins of that size are measured. */
const SIZES: Array<[number, number]> = [
  [1, 20],
  [100, 5],
  [10_000, 1],
];
/** Run jobs queued in front of the merge poll measured. */
const BACKLOG = 100_000;
const POLLS = 10;

@Injectable()
export class FanInWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('bench.fanin.child')
  async child(): Promise<number> {
    return 1;
  }

  /** Fans out `n` children and merges; the poller is slowed to 1 min so only the push wakes it. */
  @Workflow('bench.fanin.parent')
  async parent(input: { n: number }): Promise<number> {
    await this.kids(input);
    await this.ctx.merge('kids', { minInterval: '1m', maxInterval: '5m' });
    return this.ctx.step('after', () => Date.now());
  }

  @Branch()
  async kids(input: { n: number }): Promise<void> {
    const ids = Array.from({ length: input.n }, (_, i) => i);
    await this.ctx.spawnEach('kid', ids, () => ({ workflow: 'bench.fanin.child' }), { of: 1000 });
  }
}

const p = (values: number[]) =>
  `p50 ${fmt(median(values), 1)} / p99 ${fmt(percentile(values, 99), 1)} ms`;

/**
 * Pushed fan-in: from the last child's completion (its `finished_at`, the database clock) to the
 * parent's step after the merge (its `started_at`, stamped by the worker when the step began),
 * with the merge poller slowed to one minute so only the pushed wake-up can be measured. Then one
 * merge poll's latency (enqueue → `BranchMergeJob.poll` runs) with 100 000 run jobs queued in
 * front of it on the paused run queue: the poll runs on its own queue.
 */
export async function fanInBench(): Promise<BenchResult> {
  const bench = await bootBench({ prefix: 'fanin', providers: [FanInWorkflows], concurrency: 16 });
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    for (const [size, trials] of SIZES) {
      const n = scaled(size, 1);
      const latencies: number[] = [];
      for (let t = 0; t < trials; t++) {
        const key = `f-${n}-${t}`;
        const handle = await bench.client.start('bench.fanin.parent', { key, input: { n } });
        await handle.result({ timeout: '30m' });
        const [row] = await sql<{ ms: number }>(
          `SELECT EXTRACT(EPOCH FROM (s.started_at - (SELECT max(c.finished_at) FROM "${bench.schema}".chrono_forge_workflows c
             WHERE c.key LIKE $1 || '$%'))) * 1000 AS ms
           FROM "${bench.schema}".chrono_forge_execution_logs s
           JOIN "${bench.schema}".chrono_forge_workflows w ON w.id = s.workflow_id
           WHERE w.key = $1 AND s.step_name = 'step$after'`,
          [key],
        );
        latencies.push(Number(row.ms));
      }
      rows.push({
        name: `fan-in latency, ${n} children (${trials} fan-ins)`,
        measured: p(latencies),
        baseline: 'poll floor 5000 ms',
        ratio: fmt(median(latencies) / 5000, 3),
        goal: 'p50 ≤ 20 / p99 ≤ 100 ms',
        met: median(latencies) <= 20 && percentile(latencies, 99) <= 100 ? 'yes' : 'no',
        statements: '',
        roundTrips: '',
      });
    }
    const backlog = scaled(BACKLOG, 1000);
    const queue = bench.app.get(WorkflowQueue);
    const job = bench.app.get(BranchMergeJob);
    const polled: number[] = [];
    const original = job.poll.bind(job);
    job.poll = async (data: MergeJobData) => {
      polled.push(now());
      await original(data);
    };
    await queue.bullQueue.pause();
    for (let i = 0; i < backlog; i += 5000) {
      const jobs = Array.from({ length: Math.min(5000, backlog - i) }, (_, j) => ({
        name: 'run',
        data: { workflowId: String(1e15 + i + j) },
        opts: { jobId: `backlog-${i + j}` },
      }));
      await queue.bullQueue.addBulk(jobs);
    }
    const waits: number[] = [];
    for (let i = 0; i < POLLS; i++) {
      const data = { parentId: '1', branchLogIds: ['1'], minMs: 1, maxMs: 1, token: `b-${i}` };
      const before = polled.length;
      const t0 = now();
      await queue.enqueueMerge(data, 0, 0);
      while (polled.length === before && now() - t0 < 60_000) await sleep(1);
      waits.push(polled.length > before ? polled[before] - t0 : Number.NaN);
    }
    await queue.bullQueue.drain();
    await queue.bullQueue.resume();
    rows.push({
      name: `merge poll latency, ${backlog} run jobs queued`,
      measured: p(waits),
      baseline: `behind ${backlog} jobs`,
      ratio: '',
      goal: 'not delayed by the backlog',
      met: percentile(waits, 99) < 1000 ? 'yes' : 'no',
      statements: '',
      roundTrips: '',
    });
    notes.push(
      `fan-in: merge poller slowed to 1 min, so the latency measured is the pushed wake-up's (child's completion statement → parent's pass → merge → next step).`,
    );
  } finally {
    await bench.close();
  }
  return { rows, notes };
}

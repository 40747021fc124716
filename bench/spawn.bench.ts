import { spawn } from 'node:child_process';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { Branch, Workflow, WorkflowContext, WorkflowQueue } from '../lib/index.js';
import {
  type BenchResult,
  type BenchRow,
  bootBench,
  fmt,
  now,
  scaled,
  sleep,
  sql,
} from './support.js';
import { spawnMemoryRows } from './spawn-memory.js';
import { spawnPieces } from './spawn-pieces.js';

interface FanInput {
  n: number;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** Records, per parent key, its passes and how long its spawnEach took. */
@Injectable()
export class FanRecorder {
  readonly passes = new Map<string, number>();
  readonly spawnMs = new Map<string, number>();
  /** The branch waits for it before spawning (until the child worker process is up). */
  gate: Promise<void> = Promise.resolve();
}

@Injectable()
export class FanWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly rec: FanRecorder,
  ) {}

  @Workflow('bench.fanParent')
  async parent(input: FanInput): Promise<string> {
    this.rec.passes.set(this.ctx.key, (this.rec.passes.get(this.ctx.key) ?? 0) + 1);
    await this.fan(input);
    await this.ctx.merge('fan', { minInterval: '250ms', maxInterval: '2s' });
    return 'merged';
  }

  @Branch()
  async fan(input: FanInput): Promise<void> {
    await this.rec.gate;
    const t0 = performance.now();
    await this.ctx.spawnEach('kid', range(input.n), () => ({ workflow: 'bench.fanChild' }), {
      of: 1000,
    });
    this.rec.spawnMs.set(this.ctx.key, performance.now() - t0);
  }

  @Workflow('bench.fanChild')
  async child(): Promise<number> {
    return 1;
  }
}

/** The child worker process (bench/spawn-worker.main.ts, compiled next to this file). */
function startChildWorker(schema: string, queueName: string) {
  const script = new URL('./spawn-worker.main.js', import.meta.url);
  const proc = spawn(process.execPath, [script.pathname], {
    env: { ...process.env, BENCH_SCHEMA: schema, BENCH_QUEUE: queueName, BENCH_CONCURRENCY: '32' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    });
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then(() => reject(new Error(`spawn child worker exited:\n${out}`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    /** Stops the worker; returns the parent passes it ran. */
    stop: async (): Promise<Record<string, number>> => {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
      const line = /passes (\{.*\})/.exec(out)?.[1];
      if (!line) throw new Error(`spawn child worker did not report its passes:\n${out}`);
      return JSON.parse(line) as Record<string, number>;
    },
  };
}

/** Times `addBulk` calls of spawned children (not the sweeper's) on the engine's queue. */
function timeChildEnqueues(queue: Queue): { calls: number; ms: number } {
  const stats = { calls: 0, ms: 0 };
  const original = queue.addBulk.bind(queue);
  queue.addBulk = (async (jobs: Parameters<Queue['addBulk']>[0]) => {
    const id = String(jobs[0]?.opts?.jobId ?? '');
    if (/sweep|stale/.test(id)) return original(jobs);
    const t0 = now();
    try {
      return await original(jobs);
    } finally {
      stats.calls++;
      stats.ms += now() - t0;
    }
  }) as Queue['addBulk'];
  return stats;
}

/**
 * spawnEach of 10k and 100k children: spawn rate, peak RSS, parent passes per merge. The children
 * run in a separate worker process: started once the spawn finished (the spawn rate alone), and
 * for the largest size also during the spawn (the rate when the children compete for the CPUs).
 */
export async function spawnBench(): Promise<BenchResult> {
  const sizes = [scaled(10_000, 500), scaled(100_000, 5_000)];
  const rows: BenchRow[] = [];
  const notes: string[] = await spawnPieces();
  const runs = [
    ...sizes.map((n) => ({ n, childrenDuring: false })),
    { n: sizes[1], childrenDuring: true },
  ];
  for (const { n, childrenDuring } of runs) {
    const { row, note } = await spawnRun(n, childrenDuring);
    rows.push(row);
    notes.push(note);
  }
  const memory = await spawnMemoryRows();
  return { rows: [...rows, ...memory.rows], notes: [...notes, ...memory.notes] };
}

/** One parent spawning `n` children; the parent's passes run in this process. */
async function spawnRun(
  n: number,
  childrenDuring: boolean,
): Promise<{ row: BenchRow; note: string }> {
  // Concurrency 1: the parent's spawning pass holds this process's only slot, so no child runs
  // here during the spawn and this process's rate and RSS are the spawn's.
  const bench = await bootBench({
    prefix: 'spawn',
    providers: [FanRecorder, FanWorkflows],
    concurrency: 1,
  });
  const rec = bench.app.get(FanRecorder);
  const enqueues = timeChildEnqueues(bench.app.get(WorkflowQueue).bullQueue);
  let worker: ReturnType<typeof startChildWorker> | undefined;
  try {
    const key = `fan-${n}`;
    let open!: () => void;
    rec.gate = new Promise<void>((resolve) => (open = resolve));
    const handle = await bench.client.start('bench.fanParent', { key, input: { n } });
    const deadline = Date.now() + 600_000;
    while (!rec.passes.has(key) && Date.now() < deadline) await sleep(5);
    // Started once the parent's pass runs here, so the worker process never takes that pass.
    if (childrenDuring) {
      worker = startChildWorker(bench.schema, bench.queueName);
      await worker.ready;
    }
    const dispatch = { count: 0, ms: 0 };
    const unsubscribe = bench.counter.on((e) => {
      if (!/^\s*WITH ok AS/.test(e.text)) return;
      dispatch.count++;
      dispatch.ms += e.end - e.start;
    });
    const t0 = performance.now();
    open();
    while (!rec.spawnMs.has(key) && Date.now() < deadline) await sleep(5);
    const spawnMs = rec.spawnMs.get(key) ?? Number.NaN;
    unsubscribe();
    const enqueued = { ...enqueues };
    worker ??= startChildWorker(bench.schema, bench.queueName);
    await worker.ready;
    const result = await handle
      .result({ timeout: Math.max(1_000, deadline - Date.now()) })
      .catch((e: Error) => e);
    const totalMs = performance.now() - t0;
    const elsewhere = await worker.stop();
    worker = undefined;
    const [{ children, completed }] = await sql<{ children: number; completed: number }>(
      `SELECT count(*)::int AS children, count(*) FILTER (WHERE state = 'completed')::int AS completed
       FROM "${bench.schema}".chrono_forge_workflows WHERE key LIKE $1`,
      [`${key}$bench.fanParent$fan$kid_%`],
    );
    const passes = (rec.passes.get(key) ?? 0) + (elsewhere[key] ?? 0);
    const rate = n / (spawnMs / 1000);
    const row: BenchRow = {
      name: `spawnEach ${n} children (of 1000; children in a worker process, concurrency 32, ${childrenDuring ? 'running during the spawn' : 'started after the spawn'})`,
      measured: `${fmt(rate, 0)} children/s spawned`,
      baseline: `${n} children`,
      ratio: '',
      goal: '≥ 10 000 children/s; parent passes constant in N',
      met: rate >= 10_000 ? 'yes' : 'no',
      statements: `${passes} parent passes`,
      roundTrips: `${Math.ceil(n / 1000) + 1} dispatch statements`,
    };
    const note =
      `spawn ${n} (children ${childrenDuring ? 'running during the spawn' : 'started after the spawn'}): spawnEach ${fmt(spawnMs, 0)} ms (${fmt(rate, 0)} children/s): ` +
      `${dispatch.count} dispatch statements ${fmt(dispatch.ms / Math.max(1, dispatch.count), 1)} ms avg, ` +
      `${enqueued.calls} child addBulks ${fmt(enqueued.ms / Math.max(1, enqueued.calls), 1)} ms avg (overlapping the next insert); ` +
      `children inserted ${children} (completed ${completed}); run ${result instanceof Error ? `not finished: ${result.message}` : `"${String(result)}"`} ` +
      `after ${fmt(totalMs / 1000, 1)} s with ${passes} parent passes.`;
    return { row, note };
  } finally {
    await worker?.stop().catch(() => undefined);
    await bench.close();
  }
}

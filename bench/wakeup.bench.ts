import { Injectable } from '@nestjs/common';
import { Workflow, WorkflowContext } from '../lib/index.js';
import {
  type BenchResult,
  type BenchRow,
  bootBench,
  breakdown,
  engineCounts,
  fmt,
  inParallel,
  median,
  percentile,
  rawQueue,
  paced,
  scaled,
  sql,
  Tally,
} from './support.js';
import { guard } from './summary.js';
import { redisTimerProbe } from './redis-timer.js';
import { epochNow, WakePieces } from './wake-pieces.js';
import { WorkflowExecutor } from '../lib/executor/workflow.executor.js';

const CONCURRENCY = 16;
const SLEEP_MS = 1000;
const WARM_SLEEP_MS = 300;
const SINGLES = 15;
/** Paced mode: one start every PACE_MS (200/s), well under the worker's capacity. */
const PACE_MS = 5;
/** The engine's pool (`database.poolSize`): BENCH_WAKE_POOL, or the default 10. */
const POOL = Number(process.env.BENCH_WAKE_POOL ?? '10');
const MODES = ['paced', 'burst'] as const;
type Mode = (typeof MODES)[number];
/**
 * Gross regression of a wake-up (ms): one left to the recovery sweep (every 30 s) instead of its
 * delayed job. Lateness swings with the machine's load far past 2× the goal (p99 1.2 s at load
 * 16 on 2 cores), so a lesser regression shows in the table, not as a failure.
 */
const MISSED_WAKE_MS = 5_000;

/** When the step after the sleep ran, per run key (`Date.now()`, the engine clock's source). */
@Injectable()
export class WakeProbe {
  readonly afterAt = new Map<string, number>();
  /** When the workflow method was last entered (the wake-up pass), per run key. */
  readonly enteredAt = new Map<string, number>();
}

@Injectable()
export class SleepWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly probe: WakeProbe,
  ) {}

  @Workflow('bench.sleep')
  async run(input: { ms: number }): Promise<boolean> {
    const key = this.ctx.key;
    this.probe.enteredAt.set(key, epochNow());
    await this.ctx.sleep(input.ms, 'nap');
    return this.ctx.step('after', () => {
      this.probe.afterAt.set(key, epochNow());
      return true;
    });
  }
}

const p = (values: number[]) =>
  `p50 ${fmt(median(values), 1)} / p99 ${fmt(percentile(values, 99), 1)} ms`;

/** Calls `fn(i)` for i < n: one call every PACE_MS, or all at once with CONCURRENCY callers. */
const launch = (mode: Mode, n: number, fn: (i: number) => Promise<void>): Promise<void> =>
  mode === 'burst' ? inParallel(n, CONCURRENCY, fn) : paced(n, PACE_MS, fn);

async function engine(n: number, warm: number, queue: 'redis' | 'postgres' = 'redis') {
  const bench = await bootBench({
    prefix: queue === 'redis' ? 'wake' : 'wakepg',
    providers: [WakeProbe, SleepWorkflow],
    concurrency: CONCURRENCY,
    poolSize: POOL,
    queue,
  });
  try {
    const lastAcquire = new Map<string, number>();
    bench.counter.on((e) => {
      if ((e.label === 'acquire' || e.label === 'acquireMany') && e.rowCount > 0)
        for (const id of e.runIds) lastAcquire.set(id, e.sentAt);
    });
    const startAll = (mode: Mode, prefix: string, count: number, ms: number) =>
      launch(mode, count, async (i) => {
        await bench.client.start('bench.sleep', { key: `${prefix}${i}`, input: { ms } });
      });
    await startAll('burst', 'warm', warm, WARM_SLEEP_MS);
    await bench.completions.waitFor(warm, 60_000);
    const pieces =
      queue === 'redis'
        ? new WakePieces(bench.app.get(WorkflowExecutor), bench.counter, CONCURRENCY)
        : undefined;
    const described = new Map<Mode, string>();
    const out = new Map<Mode, { lateness: number[]; queued: number[]; replay: number[] }>();
    let total = warm;
    const before = bench.counter.snapshot();
    for (const mode of MODES) {
      pieces?.reset();
      await startAll(mode, mode, n, SLEEP_MS);
      await bench.completions.waitFor((total += n), 120_000);
      const wakes = await sql<{ id: string; key: string; wake_at: string }>(
        `SELECT w.id::text AS id, w.key, l.metadata->>'wake_at' AS wake_at
         FROM "${bench.schema}".chrono_forge_execution_logs l
         JOIN "${bench.schema}".chrono_forge_workflows w ON w.id = l.workflow_id
         WHERE l.step_name = 'wait$nap' AND w.key LIKE $1`,
        [`${mode}%`],
      );
      const { afterAt, enteredAt } = bench.app.get(WakeProbe);
      const m = { lateness: [] as number[], queued: [] as number[], replay: [] as number[] };
      for (const w of wakes) {
        const [wake, after] = [Date.parse(w.wake_at), afterAt.get(w.key) as number];
        const acquire = lastAcquire.get(w.id) as number;
        m.lateness.push(after - wake);
        m.queued.push(acquire - wake);
        m.replay.push(after - acquire);
      }
      if (wakes.length !== n) throw new Error(`expected ${n} wake-ups, got ${wakes.length}`);
      out.set(mode, m);
      const runs = wakes.map((w) => ({
        id: w.id,
        wakeAt: Date.parse(w.wake_at),
        entered: enteredAt.get(w.key),
        after: afterAt.get(w.key) as number,
      }));
      if (pieces) described.set(mode, pieces.describe(runs));
    }
    pieces?.detach();
    const diff = bench.counter.since(before);
    return { modes: out, diff, counts: engineCounts(diff), described };
  } finally {
    await bench.close();
  }
}

async function baseline(n: number, warm: number) {
  const done = new Tally();
  const lateness: number[] = [];
  const raw = await rawQueue('wake', CONCURRENCY, async (job) => {
    lateness.push(Date.now() - (job.timestamp + (job.opts.delay ?? 0)));
    done.hit();
  });
  try {
    const addAll = (mode: Mode, count: number, delay: number) =>
      launch(mode, count, async (i) => {
        await raw.queue.add('job', { key: `k${i}` }, { delay });
      });
    await addAll('burst', warm, WARM_SLEEP_MS);
    await done.waitFor(warm, 60_000);
    const out = new Map<Mode, number[]>();
    let total = warm;
    for (const mode of MODES) {
      lateness.length = 0;
      await addAll(mode, n, SLEEP_MS);
      await done.waitFor((total += n), 60_000);
      out.set(mode, [...lateness]);
    }
    // One job at a time with delays off the 100 ms grid: is the lateness Redis's cron phase?
    lateness.length = 0;
    for (let i = 0; i < SINGLES; i++) {
      const delay = 150 + Math.floor(Math.random() * 100);
      await raw.queue.add('job', { key: `s${i}` }, { delay });
      await done.waitFor((total += 1), 10_000);
    }
    return { modes: out, singles: [...lateness] };
  } finally {
    await raw.close();
  }
}

/** Wake-up lateness of runs sleeping 1 s vs BullMQ delayed jobs of 1 s, paced and in a burst. */
export async function wakeUpBench(): Promise<BenchResult> {
  const n = scaled(200, 20);
  const e = await engine(n, 20);
  const b = await baseline(n, 20);
  const { hz, overshoot } = await redisTimerProbe(SINGLES);
  const rows: BenchRow[] = MODES.flatMap((mode) =>
    [50, 99].map((q): BenchRow => {
      const measured = percentile(e.modes.get(mode)?.lateness ?? [], q);
      const base = percentile(b.modes.get(mode) ?? [], q);
      const goal = q === 50 ? 10 : 50;
      const how = mode === 'paced' ? `1 start / ${PACE_MS} ms` : 'all started at once';
      return {
        name: `wake-up lateness p${q}, ${mode}: ${n} runs ctx.sleep('1s'), ${how}, c=${CONCURRENCY}${POOL === 10 ? '' : `, poolSize ${POOL}`}`,
        measured: `${fmt(measured, 1)} ms`,
        baseline: `${fmt(base, 1)} ms`,
        ratio: `${fmt(measured / Math.max(base, 0.001))}×`,
        goal: `≤ ${goal} ms`,
        met: measured <= goal ? 'yes' : 'no',
        statements: `${fmt(e.counts.statements / (2 * n))}/run`,
        roundTrips: `${fmt(e.counts.roundTrips / (2 * n))}/run`,
        guards: [
          guard(measured, MISSED_WAKE_MS, 'lower', `p${q} ms`),
          guard(e.counts.statements / (2 * n), 16, 'lower', 'statements/run'),
        ],
      };
    }),
  );
  // The same runs on the PostgreSQL queue (reported: the worker's own delayed-job timer, no local
  // promotion there).
  const pgq = await engine(n, 20, 'postgres');
  for (const mode of MODES) {
    const lateness = pgq.modes.get(mode)?.lateness ?? [];
    rows.push({
      name: `wake-up lateness, ${mode}, on the PostgreSQL queue: ${n} runs ctx.sleep('1s'), c=${CONCURRENCY}`,
      measured: `p50 ${fmt(percentile(lateness, 50), 1)} / p99 ${fmt(percentile(lateness, 99), 1)} ms`,
      baseline: `Redis queue p50 ${fmt(percentile(e.modes.get(mode)?.lateness ?? [], 50), 1)} ms`,
      ratio: '',
      goal: 'reported (Redis vs PostgreSQL-only)',
      met: 'n/a',
      statements: `${fmt(pgq.counts.statements / (2 * n))}/run`,
      roundTrips: `${fmt(pgq.counts.roundTrips / (2 * n))}/run`,
    });
  }
  const notes = MODES.map((mode) => {
    const m = e.modes.get(mode) ?? { lateness: [], queued: [], replay: [] };
    return (
      `wake-up (${mode}): engine ${p(m.lateness)}, max ${fmt(Math.max(...m.lateness), 0)}; ` +
      `pieces: wake_at → acquire sent (the worker's own timer promotes the delayed job, then pickup, ` +
      `queueing behind other passes) ${p(m.queued)}; acquire sent → step after the sleep ran (lock + log ` +
      `read + replay + completing wait$nap) ${p(m.replay)}; raw BullMQ ${p(b.modes.get(mode) ?? [])}.`
    );
  });
  for (const mode of MODES)
    notes.push(`wake-up (${mode}) pieces, Redis queue: ${e.described.get(mode) ?? '?'}.`);
  notes.push(
    `wake-up: lateness = step after the sleep ran − stored \`wait$nap\` wake_at (ms resolution); ` +
      `baseline = processor start − (job.timestamp + delay) of raw BullMQ delayed jobs (no work).`,
    `wake-up: statements per run (2 passes): ${breakdown(e.diff, 2 * n)}.`,
    `wake-up: ${SINGLES} single delayed BullMQ jobs, one at a time, delays 150–249 ms: ` +
      `lateness ${b.singles.join(', ')} ms. Redis runs with hz=${hz}: a blocked BZPOPMIN ` +
      `(BullMQ's wait for the next delayed job) times out on the server's event-loop cron, ` +
      `every ${fmt(1000 / Number(hz), 0)} ms when idle, so delayed jobs land up to that late: ` +
      `a bare BZPOPMIN with a 150 ms timeout returned ${overshoot.map((o) => fmt(o, 0)).join(', ')} ` +
      `ms after its timeout.`,
  );
  return { rows, notes };
}

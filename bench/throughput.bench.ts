import { Injectable } from '@nestjs/common';
import pg from 'pg';
import { DurableStep, Workflow, WorkflowContext } from '../lib/index.js';
import {
  type BenchResult,
  type BenchRow,
  bootBench,
  breakdown,
  DATABASE_URL,
  engineCounts,
  fmt,
  inParallel,
  now,
  rawQueue,
  scaled,
  Tally,
  uniqueName,
} from './support.js';
import { DurableJobs } from './durable-baseline.js';
import { postgresCpu, postgresCpuSince } from './pg-cpu.js';
import { guard } from './summary.js';

const STARTERS = 8;
const POOL = 20;
const TIMEOUT_MS = 120_000;

/** The application's own work: one INSERT per step, on its own pool (like a real service). */
export class Work {
  table = '';
  private schema = '';
  readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL });

  /** Creates the work table in a fresh schema named after `prefix`. */
  async create(prefix: string): Promise<void> {
    this.schema = uniqueName(prefix);
    this.table = `"${this.schema}".work`;
    await this.pool.query(`CREATE SCHEMA "${this.schema}"`);
    await this.pool.query(`CREATE TABLE ${this.table} (key text NOT NULL, step text NOT NULL)`);
  }

  /** Drops the schema and closes the pool. */
  async drop(): Promise<void> {
    if (this.schema) await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await this.pool.end();
  }

  async insert(key: string, step: string): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.table} (key, step) VALUES ($1, $2)`, [key, step]);
  }
}

@Injectable()
export class ThreeStepWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly work: Work,
  ) {}

  @Workflow('bench.three')
  async three(): Promise<number> {
    let sum = 0;
    for (let i = 1; i <= 3; i++) sum += await this.step(i);
    return sum;
  }

  @DurableStep()
  async step(i: number): Promise<number> {
    await this.work.insert(this.ctx.key, `step${i}`);
    return i;
  }
}

const ROUNDS = 4;
/** BENCH_ANALYZE=0: leave the engine's fresh tables without planner statistics (as before round 5). */
const ANALYZE = process.env.BENCH_ANALYZE !== '0';

/**
 * One concurrency level: the engine app and a raw BullMQ queue side by side, measured in ROUNDS
 * alternating batches (engine, raw, engine, raw, …) so load from other processes on this machine
 * falls on both alike. Each batch: start/add its share with STARTERS callers, wait until all done.
 */
async function level(
  work: Work,
  concurrency: number,
  n: number,
  warm: number,
  queue: 'redis' | 'postgres' = 'redis',
  startInPlace = false,
) {
  const bench = await bootBench({
    prefix: `tp${concurrency}`,
    providers: [{ provide: Work, useValue: work }, ThreeStepWorkflow],
    concurrency,
    poolSize: POOL,
    queue,
    startInPlace,
  });
  const done = new Tally();
  const raw = await rawQueue(`tp${concurrency}`, concurrency, async (job) => {
    for (let i = 1; i <= 3; i++) await work.insert(job.data.key, `step${i}`);
    done.hit();
  });
  const durable = new DurableJobs(work.pool, (key, step) => work.insert(key, step));
  try {
    await durable.open(`${concurrency}`, concurrency);
    await work.pool.query(`TRUNCATE ${work.table}`);
    // This process's CPU time (user + system, all threads) per side, measured batches only.
    // PostgreSQL's CPU time (all its processes) per side, measured batches only.
    const cpu = { engine: 0, raw: 0, durable: 0, pgEngine: 0, pgRaw: 0, pgDurable: 0, on: false };
    const cpuOf = async (side: 'engine' | 'raw' | 'durable', batch: () => Promise<void>) => {
      const c0 = process.cpuUsage();
      const p0 = postgresCpu();
      await batch();
      const c = process.cpuUsage(c0);
      const p = postgresCpuSince(p0);
      if (!cpu.on) return;
      cpu[side] += (c.user + c.system) / 1000;
      const pgSide = ({ engine: 'pgEngine', raw: 'pgRaw', durable: 'pgDurable' } as const)[side];
      if (p !== undefined) cpu[pgSide] += p;
    };
    type Side = Parameters<typeof cpuOf>[0];
    /** One side's batch: `count` items started by STARTERS callers, timed until all are done. */
    const batchOf = (
      side: Side,
      start: (i: number) => Promise<unknown>,
      waitFor: (n: number, timeoutMs: number) => Promise<unknown>,
    ) => {
      let issued = 0;
      return async (count: number) => {
        const t0 = now();
        await cpuOf(side, async () => {
          await inParallel(count, STARTERS, async () => {
            await start(issued++);
          });
          await waitFor(issued, TIMEOUT_MS);
        });
        return now() - t0;
      };
    };
    const engineBatch = batchOf(
      'engine',
      (i) => bench.client.start('bench.three', { key: `k${i}` }),
      (n, t) => bench.completions.waitFor(n, t),
    );
    const rawBatch = batchOf(
      'raw',
      (i) => raw.queue.add('job', { key: `raw${i}` }),
      (n, t) => done.waitFor(n, t),
    );
    const durableBatch = batchOf(
      'durable',
      (i) => durable.start(`d${i}`),
      (n, t) => durable.done.waitFor(n, t),
    );
    await engineBatch(warm);
    await rawBatch(warm);
    await durableBatch(warm);
    if (ANALYZE) await bench.analyze();
    const before = bench.counter.snapshot();
    cpu.on = true;
    const e: number[] = [];
    const b: number[] = [];
    const d: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const count = Math.round(((r + 1) * n) / ROUNDS) - Math.round((r * n) / ROUNDS);
      e.push(await engineBatch(count));
      b.push(await rawBatch(count));
      d.push(await durableBatch(count));
    }
    const diff = bench.counter.since(before);
    const counts = engineCounts(diff);
    const { rows } = await work.pool.query<{ c: string }>(
      `SELECT count(*) AS c FROM ${work.table}`,
    );
    const engineMs = e.reduce((x, y) => x + y, 0);
    const rawMs = b.reduce((x, y) => x + y, 0);
    const durableMs = d.reduce((x, y) => x + y, 0);
    return {
      engine: (n / engineMs) * 1000,
      raw: (n / rawMs) * 1000,
      durable: (n / durableMs) * 1000,
      statements: counts.statements / n,
      roundTrips: counts.roundTrips / n,
      note:
        `c=${concurrency} (${queue} queue${startInPlace ? ', startInPlace' : ''}): engine batches ${e.map((x) => fmt(x, 0)).join(' / ')} ms, raw ` +
        `BullMQ batches ${b.map((x) => fmt(x, 0)).join(' / ')} ms, hand-written durable job batches ${d.map((x) => fmt(x, 0)).join(' / ')} ms; work rows ${rows[0].c} ` +
        `(expected ${9 * (n + warm)}); this process's CPU per workflow ${fmt(cpu.engine / n, 3)} ms, per raw job ${fmt(cpu.raw / n, 3)} ms, per durable job ${fmt(cpu.durable / n, 3)} ms (the starters', the worker's and BullMQ's); PostgreSQL's CPU per workflow ${fmt(cpu.pgEngine / n, 3)} ms, per raw job ${fmt(cpu.pgRaw / n, 3)} ms, per durable job ${fmt(cpu.pgDurable / n, 3)} ms (all its processes on this machine); engine statements per workflow: ${breakdown(diff, n)}`,
    };
  } finally {
    await durable.close();
    await raw.close();
    await bench.close();
  }
}

/** Throughput: three-step workflows vs raw BullMQ jobs doing the same 3 INSERTs, c = 1 and 16. */
export async function throughputBench(): Promise<BenchResult> {
  const n = scaled(2000, 50);
  const warm = Math.max(20, Math.round(n / 10));
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const work = new Work();
  try {
    await work.create('bench_work');
    let redis16 = 0;
    const levels = [
      [1, false],
      [16, false],
      [1, true],
      [16, true],
    ] as const;
    // BENCH_LEVELS=16,1p: only those levels (p: startInPlace), and not the PostgreSQL queue's.
    const only = process.env.BENCH_LEVELS?.split(',');
    for (const [concurrency, inPlace] of levels) {
      if (only && !only.includes(`${concurrency}${inPlace ? 'p' : ''}`)) continue;
      const m = await level(work, concurrency, n, warm, 'redis', inPlace);
      if (concurrency === 16 && !inPlace) redis16 = m.engine;
      const ratio = m.engine / m.raw;
      const how = inPlace ? ', worker.startInPlace' : '';
      rows.push({
        name: `throughput: ${n} three-step workflows, worker concurrency ${concurrency}${how}`,
        measured: `${fmt(m.engine, 0)} wf/s`,
        baseline: `${fmt(m.raw, 0)} jobs/s`,
        ratio: `${fmt(ratio)}×`,
        goal: '≥ 0.5×',
        met: ratio >= 0.5 ? 'yes' : 'no',
        statements: `${fmt(m.statements / 3)} (${fmt(m.statements)}/wf)`,
        roundTrips: `${fmt(m.roundTrips / 3)} (${fmt(m.roundTrips)}/wf)`,
        // The goal (0.5×) is not met yet: half of the lowest recorded ratio (0.24×); 2× today's 6/wf.
        guards: [
          guard(ratio, 0.12, 'higher', 'ratio'),
          guard(m.statements, 12, 'lower', 'statements/wf'),
        ],
      });
      notes.push(`throughput: ${m.note}.`);
      if (inPlace) continue;
      rows.push({
        name: `throughput vs a hand-written durable BullMQ job (bench/durable-baseline.ts): ${n} three-step workflows, concurrency ${concurrency}`,
        measured: `${fmt(m.engine, 0)} wf/s`,
        baseline: `${fmt(m.durable, 0)} durable jobs/s (raw BullMQ: ${fmt(m.raw, 0)})`,
        ratio: `${fmt(m.engine / m.durable)}×`,
        goal: 'reported (the engine vs durability done by hand)',
        met: 'n/a',
        statements: `${fmt(m.statements / 3)} (${fmt(m.statements)}/wf)`,
        roundTrips: `${fmt(m.roundTrips / 3)} (${fmt(m.roundTrips)}/wf); durable job: 9 statements`,
      });
    }
    if (only) return { rows, notes };
    const pg = await level(work, 16, n, warm, 'postgres');
    const pgInPlace = await level(work, 16, n, warm, 'postgres', true);
    rows.push({
      name: `throughput on the PostgreSQL queue: ${n} three-step workflows, concurrency 16, worker.startInPlace`,
      measured: `${fmt(pgInPlace.engine, 0)} wf/s`,
      baseline: `${fmt(pgInPlace.raw, 0)} raw BullMQ (Redis) jobs/s`,
      ratio: `${fmt(pgInPlace.engine / pgInPlace.raw)}×`,
      goal: 'reported (Redis vs PostgreSQL-only)',
      met: 'n/a',
      statements: `${fmt(pgInPlace.statements / 3)} (${fmt(pgInPlace.statements)}/wf)`,
      roundTrips: `${fmt(pgInPlace.roundTrips / 3)} (${fmt(pgInPlace.roundTrips)}/wf)`,
      guards: [guard(pgInPlace.statements, 12, 'lower', 'statements/wf')],
    });
    notes.push(`throughput: ${pgInPlace.note}.`);
    rows.push({
      name: `throughput on the PostgreSQL queue: ${n} three-step workflows, concurrency 16`,
      measured: `${fmt(pg.engine, 0)} wf/s`,
      baseline: `${fmt(redis16, 0)} wf/s on the Redis queue`,
      ratio: `${fmt(pg.engine / redis16)}×`,
      goal: 'reported (Redis vs PostgreSQL-only)',
      met: 'n/a',
      statements: `${fmt(pg.statements / 3)} (${fmt(pg.statements)}/wf)`,
      roundTrips: `${fmt(pg.roundTrips / 3)} (${fmt(pg.roundTrips)}/wf)`,
      guards: [guard(pg.statements, 12, 'lower', 'statements/wf')],
    });
    notes.push(`throughput: ${pg.note}.`);
    notes.push(
      `throughput: ${ROUNDS} alternating batches per side after a warm-up, time = first ` +
        `start()/add() of a batch → its last completion (starting included, ${STARTERS} callers). ` +
        `Statements are the engine's pool only; each step also does its own INSERT on the ` +
        `application's pool (3/wf, same as the raw job), so a workflow commits 9 times vs 3.`,
    );
    return { rows, notes };
  } finally {
    await work.drop();
  }
}

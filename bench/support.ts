import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type INestApplicationContext, Module, type Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  ChronoForgeClock,
  ChronoForgeDatabase,
  ChronoForgeModule,
  type LimitDefinition,
  WorkflowClient,
} from '../lib/index.js';
import { type CounterSnapshot, PgCounter } from './pg-counter.js';
import { Completions } from './waiters.js';

export { Completions, Tally, within } from './waiters.js';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** BENCH_SCALE=0.1 runs the sized benchmarks with a tenth of their runs. */
export const SCALE = Number(process.env.BENCH_SCALE ?? '1');

/** One line of the results table. */
export interface BenchRow {
  name: string;
  measured: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: 'yes' | 'no' | 'n/a';
  statements: string;
  roundTrips: string;
  /** Gross-regression checks (bench/summary.ts): `npm run bench` fails when one is breached. */
  guards?: Guard[];
}

/** A measured number and the limit past which the row is a gross regression. */
export interface Guard {
  value: number;
  limit: number;
  /** 'lower': smaller is better (costs, latencies, statement counts); 'higher': larger is. */
  better: 'lower' | 'higher';
  /** What the value is, e.g. "ratio" or "statements/step". */
  what: string;
}

export interface BenchResult {
  rows: BenchRow[];
  /** Evidence: statement breakdowns, timings of the pieces. */
  notes: string[];
}

export const scaled = (n: number, min = 10): number => Math.max(min, Math.round(n * SCALE));
export const uniqueName = (prefix: string): string =>
  `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const now = (): number => performance.now();

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
export const median = (values: number[]): number => percentile(values, 50);
export const fmt = (n: number, digits = 2): string =>
  Number.isFinite(n) ? n.toFixed(digits) : String(n);

/** Runs `fn` over `0..n-1` with at most `parallel` calls in flight. */
export async function inParallel(n: number, parallel: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
}

/** Calls `fn(i)` for i < n, one call every `intervalMs` (not waiting for the previous one). */
export async function paced(n: number, intervalMs: number, fn: (i: number) => Promise<void>) {
  const t0 = now();
  const calls: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    await sleep(Math.max(0, t0 + i * intervalMs - now()));
    calls.push(fn(i));
  }
  await Promise.all(calls);
}

/** Runs one statement on a short-lived connection. */
export async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** "12 completeStep, 1 acquire, …" for the notes. */
export function breakdown(diff: CounterSnapshot, per = 1, unit = ''): string {
  return [...diff.byLabel]
    .sort((a, b) => b[1].count - a[1].count)
    .map(
      ([k, v]) =>
        `${fmt(v.count / per, per === 1 ? 0 : 2)}${unit} ${k} (${fmt(v.ms / v.count, 3)} ms avg)`,
    )
    .join(', ');
}

/** Engine statements and round trips of `diff`, without the recovery sweeper's. */
export function engineCounts(diff: CounterSnapshot): { statements: number; roundTrips: number } {
  const sweeps = diff.byLabel.get('sweep')?.count ?? 0;
  return { statements: diff.statements - sweeps, roundTrips: diff.roundTrips - sweeps };
}

export interface BenchApp {
  app: INestApplicationContext;
  client: WorkflowClient;
  counter: PgCounter;
  completions: Completions;
  schema: string;
  queueName: string;
  /**
   * `ANALYZE`s the engine's tables: the planner statistics autovacuum gathers within a minute of a
   * real deployment's first writes. A bench's schema is seconds old; without them the multi-row
   * statements' cached plans scan the whole table (see RESULTS.md, fifth round).
   */
  analyze(): Promise<void>;
  close(): Promise<void>;
}

/** Boots ChronoForge on a fresh schema and queue, with a statement counter on its pool. */
export async function bootBench(o: {
  prefix: string;
  providers: Provider[];
  /** Worker concurrency; 0: a client-only process (`worker: false`). */
  concurrency: number;
  poolSize?: number;
  clock?: ChronoForgeClock;
  /** Queue backend of the engine. @default 'redis' */
  queue?: 'redis' | 'postgres';
  /** Named limits (`forRoot({ limits })`). */
  limits?: Record<string, LimitDefinition>;
  /** `worker.startInPlace`. @default false */
  startInPlace?: boolean;
}): Promise<BenchApp> {
  const schema = uniqueName(`bench_${o.prefix}`);
  const queueName = uniqueName(`bq_${o.prefix}`);
  const forRoot = ChronoForgeModule.forRoot({
    database: { url: DATABASE_URL, schema, poolSize: o.poolSize ?? 10 },
    queue: o.queue === 'postgres' ? { postgres: true } : { redis: { url: REDIS_URL } },
    queueName,
    worker:
      o.concurrency === 0
        ? false
        : { concurrency: o.concurrency, startInPlace: o.startInPlace ?? false },
    limits: o.limits,
  });
  @Module({ imports: [forRoot], providers: o.providers })
  class BenchModule {}
  const builder = Test.createTestingModule({ imports: [BenchModule] });
  if (o.clock) builder.overrideProvider(ChronoForgeClock).useValue(o.clock);
  const app = await builder.compile();
  await app.init();
  const counter = PgCounter.attach(app.get(ChronoForgeDatabase).pool);
  return {
    app,
    client: app.get(WorkflowClient),
    counter,
    completions: new Completions(counter),
    schema,
    queueName,
    analyze: async () => {
      const rows = await sql<{ t: string }>(
        `SELECT quote_ident(table_name) AS t FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
        [schema],
      );
      await sql(`ANALYZE ${rows.map((r) => `"${schema}".${r.t}`).join(', ')}`);
    },
    close: async () => {
      await app.close();
      await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql(`DROP SCHEMA IF EXISTS "${schema}_bullmq" CASCADE`);
      if (o.queue !== 'postgres')
        for (const name of [queueName, `${queueName}-merge`, `${queueName}-maintenance`])
          await obliterate(name);
    },
  };
}

async function obliterate(queueName: string): Promise<void> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection });
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
}

/** A plain BullMQ queue and worker on the same Redis: the baselines. */
export async function rawQueue(
  prefix: string,
  concurrency: number,
  processor: (job: Job<{ key: string }>) => Promise<void>,
): Promise<{ queue: Queue<{ key: string }>; close(): Promise<void> }> {
  const name = uniqueName(`braw_${prefix}`);
  const conns = [0, 1].map(() => new Redis(REDIS_URL, { maxRetriesPerRequest: null }));
  const queue = new Queue<{ key: string }>(name, {
    connection: conns[0],
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const worker = new Worker<{ key: string }>(name, processor, {
    connection: conns[1],
    concurrency,
  });
  worker.on('failed', (job, err) => process.stderr.write(`raw job ${job?.id} failed: ${err}\n`));
  await worker.waitUntilReady();
  return {
    queue,
    close: async () => {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await Promise.all(conns.map((c) => c.quit()));
    },
  };
}

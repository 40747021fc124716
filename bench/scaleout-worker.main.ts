import 'reflect-metadata';
import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import pg from 'pg';
import {
  ChronoForgeMetrics,
  ChronoForgeModule,
  DurableStep,
  Workflow,
  WorkflowContext,
} from '../lib/index.js';
import { DATABASE_URL, now, REDIS_URL } from './support.js';

/** `DATABASE_URL` with an `application_name`, so pg_stat_activity tells this process's pools apart. */
export const named = (appName: string): string =>
  `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}application_name=${appName}`;

/** The application's own pool and table (one INSERT per step, as in the throughput bench). */
@Injectable()
export class ScaleWork {
  readonly table = process.env.BENCH_TABLE ?? '';
  readonly pool = new pg.Pool({
    connectionString: named(`${process.env.BENCH_APP ?? 'cfs'}_app`),
    max: Number(process.env.BENCH_APP_POOL ?? '10'),
  });
  /** Step call → checkpointed result, in ms, as the workflow method sees it. */
  latencies: number[] = [];

  async insert(key: string, step: string): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.table} (key, step) VALUES ($1, $2)`, [key, step]);
  }
}

@Injectable()
export class ScaleWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly work: ScaleWork,
  ) {}

  @Workflow('bench.scale')
  async three(): Promise<number> {
    let sum = 0;
    for (let i = 1; i <= 3; i++) {
      const t0 = now();
      sum += await this.step(i);
      this.work.latencies.push(now() - t0);
    }
    return sum;
  }

  @DurableStep()
  async step(i: number): Promise<number> {
    await this.work.insert(this.ctx.key, `step${i}`);
    return i;
  }
}

/** Counters this process reports to the scale-out bench (IPC message `report`). */
export interface ScaleReport {
  latencies: number[];
  lockConflicts: number;
  cpuMs: number;
}

/**
 * A worker process of the scale-out bench (IPC): BENCH_SCHEMA, BENCH_QUEUE, BENCH_CONCURRENCY,
 * BENCH_TABLE and BENCH_APP (the application_name prefix) select the run. Sends `ready` once it
 * consumes jobs; on `reset` it zeroes its counters, on `report` it sends a ScaleReport, on `stop`
 * it closes and exits.
 */
async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const schema = process.env.BENCH_SCHEMA;
  const queueName = process.env.BENCH_QUEUE;
  if (!schema || !queueName || !process.send) throw new Error('BENCH_SCHEMA, BENCH_QUEUE, IPC');
  @Module({
    imports: [
      ChronoForgeModule.forRoot({
        database: {
          url: named(`${process.env.BENCH_APP ?? 'cfs'}_engine`),
          schema,
          poolSize: process.env.BENCH_POOL ? Number(process.env.BENCH_POOL) : undefined,
        },
        queue: { redis: { url: REDIS_URL } },
        queueName,
        worker: { concurrency: Number(process.env.BENCH_CONCURRENCY ?? '16') },
      }),
    ],
    providers: [ScaleWork, ScaleWorkflow],
  })
  class ScaleWorkerModule {}
  const app = await Test.createTestingModule({ imports: [ScaleWorkerModule] }).compile();
  await app.init();
  const work = app.get(ScaleWork);
  const conflicts = app.get(ChronoForgeMetrics).lockConflicts;
  const count = async () => (await conflicts.get()).values.reduce((s, v) => s + v.value, 0);
  let base = { conflicts: 0, cpu: process.cpuUsage() };
  process.on('message', (msg: string) => {
    void (async () => {
      if (msg === 'reset') {
        work.latencies = [];
        base = { conflicts: await count(), cpu: process.cpuUsage() };
        process.send?.('reset-done');
      } else if (msg === 'report') {
        const cpu = process.cpuUsage(base.cpu);
        const report: ScaleReport = {
          latencies: work.latencies,
          lockConflicts: (await count()) - base.conflicts,
          cpuMs: (cpu.user + cpu.system) / 1000,
        };
        process.send?.({ report });
      } else if (msg === 'stop') {
        await app.close();
        await work.pool.end();
        process.exit(0);
      }
    })();
  });
  process.send('ready');
}

if (process.env.BENCH_SCHEMA) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

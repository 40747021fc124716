import 'reflect-metadata';
import { Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ChronoForgeModule } from '../lib/index.js';
import { FanRecorder, FanWorkflows } from './spawn.bench.js';
import { DATABASE_URL, REDIS_URL } from './support.js';

/**
 * The spawn benchmark's child worker, in its own process so the spawning process measures
 * spawning: BENCH_SCHEMA, BENCH_QUEUE and BENCH_CONCURRENCY select the run. Prints "ready" once it
 * consumes jobs; on SIGTERM prints `passes <json>` (the parent passes it ran) and exits.
 */
async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const schema = process.env.BENCH_SCHEMA;
  const queueName = process.env.BENCH_QUEUE;
  if (!schema || !queueName) throw new Error('BENCH_SCHEMA and BENCH_QUEUE are required');
  @Module({
    imports: [
      ChronoForgeModule.forRoot({
        database: { url: DATABASE_URL, schema, poolSize: 20 },
        queue: { redis: { url: REDIS_URL } },
        queueName,
        worker: { concurrency: Number(process.env.BENCH_CONCURRENCY ?? '32') },
      }),
    ],
    providers: [FanRecorder, FanWorkflows],
  })
  class SpawnWorkerModule {}
  const app = await Test.createTestingModule({ imports: [SpawnWorkerModule] }).compile();
  await app.init();
  process.on('SIGTERM', () => {
    const passes = Object.fromEntries(app.get(FanRecorder).passes);
    process.stdout.write(`passes ${JSON.stringify(passes)}\n`);
    void app.close().then(() => process.exit(0));
  });
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

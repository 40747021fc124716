import type { ModuleMetadata } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ChronoForgeModule } from '../chrono-forge.module.js';
import type { ChronoForgeModuleOptions } from '../options/chrono-forge-options.interface.js';
import { ChronoForgeClock, TestClock } from '../util/clock.js';
import { ChronoForgeTestHarness } from './test-harness.js';

/** Options of {@link ChronoForgeTestingModule.create}. @publicApi */
export interface ChronoForgeTestingOptions extends Pick<ModuleMetadata, 'imports' | 'providers'> {
  /** @default process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' */
  databaseUrl?: string;
  /** @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' */
  redisUrl?: string;
  /** Queue backend: BullMQ on Redis, or on PostgreSQL (no Redis needed). @default 'redis' */
  queue?: 'redis' | 'postgres';
  /** Extra module options (worker concurrency, retry defaults, …). */
  options?: Partial<Omit<ChronoForgeModuleOptions, 'database' | 'queue' | 'queueName'>>;
}

/**
 * Builds an isolated test application: a fresh schema and queue name on your PostgreSQL and
 * Redis, a `TestClock`, and the harness helpers `runToCompletion` and `explore`.
 *
 * @example
 * ```ts
 * const harness = await ChronoForgeTestingModule.create({ providers: [OrderService, PaymentsService] });
 * const report = await harness.explore('orders.fulfil', { orderId: 'o1' });
 * expect(report.ok).toBe(true);
 * await harness.close();
 * ```
 * @publicApi
 */
export class ChronoForgeTestingModule {
  static async create(options: ChronoForgeTestingOptions = {}): Promise<ChronoForgeTestHarness> {
    const databaseUrl =
      options.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
    const schema = `cf_test_${suffix}`;
    const queueName = `cf-test-${suffix}`;
    const clock = new TestClock();
    @Module({
      imports: [
        ChronoForgeModule.forRoot({
          recovery: { every: '1s' },
          // NOTE: a TestClock moved past a tick is seen at the next look, not at a schedule write.
          schedules: { pollEvery: '100ms' },
          ...options.options,
          database: { url: databaseUrl, schema, poolSize: 5 },
          queue: options.queue === 'postgres' ? { postgres: true } : { redis: { url: redisUrl } },
          queueName,
        }),
        ...(options.imports ?? []),
      ],
      providers: options.providers ?? [],
    })
    class ChronoForgeTestAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ChronoForgeTestAppModule] })
      .overrideProvider(ChronoForgeClock)
      .useValue(clock)
      .compile();
    await moduleRef.init();
    const teardown = async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client
        .query(
          `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_bullmq" CASCADE`,
        )
        .finally(() => client.end());
      if (options.queue === 'postgres') return;
      const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
      const queue = new Queue(queueName, { connection });
      await queue.obliterate({ force: true }).finally(async () => {
        await queue.close();
        await connection.quit();
      });
    };
    return new ChronoForgeTestHarness(moduleRef, clock, schema, queueName, teardown);
  }
}

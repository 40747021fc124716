import 'reflect-metadata';
import type { INestApplicationContext, Provider, Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  ChronoForgeClock,
  ChronoForgeModule,
  type ChronoForgeModuleOptions,
} from '../../lib/index.js';
import {
  DATABASE_DIRECT_URL,
  DATABASE_POOLER,
  DATABASE_URL,
  QUEUE_BACKEND,
  REDIS_URL,
} from './env.js';

export interface TestAppOptions {
  schema: string;
  queueName: string;
  providers?: Provider[];
  imports?: Type[];
  options?: Partial<ChronoForgeModuleOptions>;
  /** Replaces the engine clock (e.g. a `TestClock`). */
  clock?: ChronoForgeClock;
}

/**
 * Module options of a test app: the suite's schema and queue, fast recovery, and the queue backend
 * CF_QUEUE selects (`{ postgres: true }` puts the queue tables in `<schema>_bullmq`, so each suite
 * keeps its own).
 */
export function testModuleOptions(o: TestAppOptions): ChronoForgeModuleOptions {
  const options = baseModuleOptions(o);
  // CF_START_IN_PLACE=1: every worker of the suite runs plain starts in place (the whole e2e suite
  // again with `worker.startInPlace`, as .ci/run does for a part of it).
  if (process.env.CF_START_IN_PLACE === '1' && options.worker)
    return { ...options, worker: { ...options.worker, startInPlace: true } };
  return options;
}

function baseModuleOptions(o: TestAppOptions): ChronoForgeModuleOptions {
  return {
    database: {
      url: DATABASE_URL,
      schema: o.schema,
      poolSize: 5,
      ...(DATABASE_POOLER ? { pooler: DATABASE_POOLER, directUrl: DATABASE_DIRECT_URL } : {}),
    },
    queue: QUEUE_BACKEND === 'postgres' ? { postgres: true } : { redis: { url: REDIS_URL } },
    queueName: o.queueName,
    worker: { concurrency: 4 },
    recovery: { every: '500ms' },
    ...o.options,
  };
}

/** Boots a Nest application context with ChronoForge and the given providers. */
export async function bootApp(o: TestAppOptions): Promise<INestApplicationContext> {
  @Module({
    imports: [ChronoForgeModule.forRoot(testModuleOptions(o)), ...(o.imports ?? [])],
    providers: o.providers ?? [],
  })
  class TestAppModule {}
  const builder = Test.createTestingModule({ imports: [TestAppModule] });
  if (o.clock) builder.overrideProvider(ChronoForgeClock).useValue(o.clock);
  const moduleRef = await builder.compile();
  await moduleRef.init();
  return moduleRef;
}

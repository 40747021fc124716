import type { INestApplicationContext, Provider } from '@nestjs/common';
import { afterAll, beforeAll } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import {
  ChronoForgeTestingModule,
  type ChronoForgeTestHarness,
  type ChronoForgeTestingOptions,
} from '../../lib/testing/index.js';
import { bootApp, type TestAppOptions } from './app.js';
import { cleanup, DATABASE_URL, QUEUE_BACKEND, REDIS_URL, uniqueName } from './env.js';

/** What `bootApp` takes besides the names and providers `suiteApp` chooses. */
export interface SuiteAppOptions extends Omit<
  TestAppOptions,
  'schema' | 'queueName' | 'providers'
> {
  /** Runs right after boot, before any test (e.g. `app.useLogger(logger)`). */
  afterBoot?: (app: INestApplicationContext) => void | Promise<void>;
  /** Boots the app another way than `bootApp` (e.g. `bootLedgerClient`). */
  boot?: (schema: string, queueName: string) => Promise<INestApplicationContext>;
}

/** The application a suite's tests share. */
export interface SuiteApp {
  readonly schema: string;
  readonly queueName: string;
  /** The booted application, from the suite's `beforeAll` on. */
  readonly app: INestApplicationContext;
  /** Its `WorkflowClient`. */
  readonly client: WorkflowClient;
}

function booted<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`${what} is booted in beforeAll: use it from a test or a later hook.`);
  return value;
}

/**
 * Declares, inside a `describe`, the application its tests share: a schema `cf_<prefix>_…` and a
 * queue `q_<prefix>_…` unique to this run, booted with `providers` in `beforeAll`, closed and
 * dropped (schema and queue, on both backends) in `afterAll`.
 */
export function suiteApp(
  prefix: string,
  providers: Provider[] = [],
  options: SuiteAppOptions = {},
): SuiteApp {
  const schema = uniqueName(`cf_${prefix}`);
  const queueName = uniqueName(`q_${prefix}`);
  let app: INestApplicationContext | undefined;
  let client: WorkflowClient | undefined;
  const { afterBoot, boot, ...appOptions } = options;
  beforeAll(async () => {
    app = boot
      ? await boot(schema, queueName)
      : await bootApp({ ...appOptions, schema, queueName, providers });
    await afterBoot?.(app);
    client = app.get(WorkflowClient);
  });
  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });
  return {
    schema,
    queueName,
    get app() {
      return booted(app, `suiteApp("${prefix}")`);
    },
    get client() {
      return booted(client, `suiteApp("${prefix}")`);
    },
  };
}

/** The testing-kit harness a suite's tests share. */
export interface SuiteHarness {
  readonly harness: ChronoForgeTestHarness;
}

/**
 * Declares, inside a `describe`, a `ChronoForgeTestingModule` harness on the suite's PostgreSQL,
 * Redis and queue backend with `providers` (or `imports`), created in `beforeAll` and closed (schema
 * and queue dropped) in `afterAll`.
 */
export function suiteHarness(
  providers: Provider[],
  options: Omit<ChronoForgeTestingOptions, 'databaseUrl' | 'redisUrl' | 'queue' | 'providers'> = {},
): SuiteHarness {
  let harness: ChronoForgeTestHarness | undefined;
  beforeAll(async () => {
    harness = await ChronoForgeTestingModule.create({
      ...options,
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      queue: QUEUE_BACKEND,
      providers,
    });
  });
  afterAll(() => harness?.close());
  return {
    get harness() {
      return booted(harness, 'suiteHarness');
    },
  };
}

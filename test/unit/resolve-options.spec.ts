import { describe, expect, it } from 'vitest';
import {
  CompositeRetryPolicy,
  RetryPolicy,
  type RetryStrategy,
} from '../../lib/retry/retry-policy.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';
import {
  base,
  DB_URL,
  expectInvalid,
  fakeDataSource,
  loose,
  REDIS_URL,
} from './resolve-options-fixtures.js';

describe('resolveOptions() defaults', () => {
  it('should apply every default to the minimal options', () => {
    const resolved = resolveOptions(base());
    expect(resolved).toMatchObject({
      database: { url: DB_URL, dataSource: undefined, schema: 'public', poolSize: 10 },
      redisUrl: REDIS_URL,
      queueName: 'chronoforge',
      worker: { concurrency: 10 },
      migrationsRun: true,
      maxDurationMs: 600_000,
      recovery: { everyMs: 30_000, batchSize: 500 },
    });
  });

  it('should default the retry strategies to the workflow and step presets', () => {
    const resolved = resolveOptions(base());
    expect(resolved.defaultRetry).toBeInstanceOf(RetryPolicy);
    expect(resolved.defaultRetry).toEqual(RetryPolicy.workflowDefault());
    expect(resolved.defaultStepRetry).toEqual(RetryPolicy.stepDefault());
  });

  it('should keep explicit values', () => {
    const retry = new RetryPolicy({ maxAttempts: 2 });
    const resolved = resolveOptions({
      database: { dataSource: fakeDataSource, schema: 'cf_1', poolSize: 3 },
      queue: { redis: { url: 'rediss://cache:6380/2' } },
      queueName: 'orders.q-1',
      worker: { concurrency: 4 },
      migrationsRun: false,
      maxDuration: '2m',
      recovery: { every: 5_000, batchSize: 50 },
      defaultRetry: retry,
      defaultStepRetry: retry,
    });
    expect(resolved).toMatchObject({
      database: { url: undefined, schema: 'cf_1', poolSize: 3 },
      redisUrl: 'rediss://cache:6380/2',
      queueName: 'orders.q-1',
      worker: { concurrency: 4 },
      migrationsRun: false,
      maxDurationMs: 120_000,
      recovery: { everyMs: 5_000, batchSize: 50 },
    });
    expect(resolved.database.dataSource).toBe(fakeDataSource);
    expect(resolved.defaultRetry).toBe(retry);
    expect(resolved.defaultStepRetry).toBe(retry);
  });

  it("should accept 'postgresql://' URLs", () => {
    const resolved = resolveOptions({ ...base(), database: { url: 'postgresql://h/db' } });
    expect(resolved.database.url).toBe('postgresql://h/db');
  });

  it('should fill worker and recovery defaults for empty objects', () => {
    const resolved = resolveOptions({ ...base(), worker: {}, recovery: {} });
    expect(resolved.worker).toEqual({ concurrency: 10, deadAfterMs: 30_000, startInPlace: false });
    expect(resolved.recovery).toEqual({ everyMs: 30_000, batchSize: 500 });
  });

  it('should take worker.startInPlace as a boolean only', () => {
    const on = resolveOptions({ ...base(), worker: { startInPlace: true } });
    expect(on.worker).toMatchObject({ startInPlace: true });
    expectInvalid(
      { ...base(), worker: { startInPlace: 'yes' as unknown as boolean } },
      /startInPlace/,
    );
  });

  it('should keep worker: false and recovery: false', () => {
    const resolved = resolveOptions({ ...base(), worker: false, recovery: false });
    expect(resolved.worker).toBe(false);
    expect(resolved.recovery).toBe(false);
  });

  it('should raise the recovery interval to at least 10ms', () => {
    expect(resolveOptions({ ...base(), recovery: { every: 1 } }).recovery).toEqual({
      everyMs: 10,
      batchSize: 500,
    });
  });

  it('should accept a maxDuration of exactly 100ms', () => {
    expect(resolveOptions({ ...base(), maxDuration: 100 }).maxDurationMs).toBe(100);
  });

  it('should compose an array of policies', () => {
    const policies = [new RetryPolicy({ retryOn: [TypeError] }), new RetryPolicy()];
    const resolved = resolveOptions({ ...base(), defaultRetry: policies });
    expect(resolved.defaultRetry).toBeInstanceOf(CompositeRetryPolicy);
    expect((resolved.defaultRetry as CompositeRetryPolicy).policies).toEqual(policies);
  });

  it('should accept a custom strategy object', () => {
    const custom: RetryStrategy = { maxAttempts: null, decide: () => ({ delayMs: 1 }) };
    expect(resolveOptions({ ...base(), defaultStepRetry: custom }).defaultStepRetry).toBe(custom);
  });
});

describe('resolveOptions() validation', () => {
  it('should reject missing or non-object options', () => {
    expectInvalid(undefined, 'ChronoForgeModule: options must be an object.');
    expectInvalid(null, 'ChronoForgeModule: options must be an object.');
    expectInvalid('postgres://x', 'ChronoForgeModule: options must be an object.');
  });

  it('should reject a missing database', () => {
    expectInvalid(
      loose({ database: undefined }),
      /`database` is required: \{ url \} or \{ dataSource \}/,
    );
    expectInvalid(loose({ database: 'postgres://x' }), /`database` is required/);
  });

  it('should reject a database with neither url nor dataSource', () => {
    expectInvalid(loose({ database: {} }), /`database` needs a `url` or a `dataSource`/);
    expectInvalid(loose({ database: { url: '' } }), /`database` needs a `url` or a `dataSource`/);
  });

  it('should reject a non-postgres database url', () => {
    for (const url of ['mysql://h/db', 'localhost:5432', 'http://postgres/', 42]) {
      expectInvalid(
        loose({ database: { url } }),
        /`database.url` must be a postgres:\/\/ connection string/,
      );
    }
  });

  it('should reject an invalid url even when a dataSource is given', () => {
    expectInvalid(
      loose({ database: { url: '', dataSource: fakeDataSource } }),
      /`database.url` must be a postgres:\/\//,
    );
  });

  it('should reject a schema that is not a plain SQL identifier, showing it', () => {
    for (const schema of ['', '1abc', 'my-schema', 'a.b', 'x; DROP TABLE y', 'a'.repeat(64)]) {
      expectInvalid(
        loose({ database: { url: DB_URL, schema } }),
        `ChronoForgeModule: \`database.schema\` must be a plain SQL identifier, got ${JSON.stringify(schema)}.`,
      );
    }
  });

  it('should accept a 63-character schema', () => {
    expect(
      resolveOptions({ ...base(), database: { url: DB_URL, schema: `_${'a'.repeat(62)}` } })
        .database.schema,
    ).toHaveLength(63);
  });

  it('should reject a bad poolSize', () => {
    for (const poolSize of [0, -1, 1.5, '10', Number.NaN]) {
      expectInvalid(
        loose({ database: { url: DB_URL, poolSize } }),
        `ChronoForgeModule: \`database.poolSize\` must be a positive integer, got ${JSON.stringify(poolSize)}.`,
      );
    }
  });

  // BUG: positiveInt() builds its message with JSON.stringify(value), which throws a TypeError for
  // a bigint, so `poolSize: 10n` escapes as a TypeError instead of InvalidOptionsError.
  it('should reject a bigint poolSize with InvalidOptionsError', () => {
    expectInvalid(loose({ database: { url: DB_URL, poolSize: 10n } }), /`database.poolSize`/);
  });

  it('should reject a missing or non-redis queue URL', () => {
    const message = 'ChronoForgeModule: `queue.redis.url` must be a redis:// URL.';
    expectInvalid(loose({ queue: undefined }), message);
    expectInvalid(loose({ queue: {} }), message);
    expectInvalid(loose({ queue: { redis: { url: 'http://localhost:6379' } } }), message);
    expectInvalid(loose({ queue: { redis: { url: 6379 } } }), message);
  });

  it('should reject a bad queueName', () => {
    for (const queueName of ['', 'has space', 'a:b', 'x'.repeat(101), 7]) {
      expectInvalid(
        loose({ queueName }),
        /`queueName` must be 1-100 characters of letters, digits/,
      );
    }
  });

  it('should reject a bad worker concurrency', () => {
    for (const concurrency of [0, -2, 2.5, '4', null]) {
      expectInvalid(
        loose({ worker: { concurrency } }),
        /`worker.concurrency` must be a positive integer/,
      );
    }
  });

  it('should reject a bad recovery interval, naming the option', () => {
    for (const every of [-1, 'often', '', Number.POSITIVE_INFINITY]) {
      expectInvalid(loose({ recovery: { every } }), /Invalid `recovery.every`/);
    }
  });

  it('should reject a bad recovery batch size', () => {
    expectInvalid(
      loose({ recovery: { batchSize: 0 } }),
      /`recovery.batchSize` must be a positive integer, got 0/,
    );
  });

  it('should reject a bad maxDuration', () => {
    expectInvalid(loose({ maxDuration: 'forever' }), /Invalid `maxDuration`: "forever"/);
    expectInvalid(loose({ maxDuration: -1 }), /Invalid `maxDuration`/);
  });

  it('should reject a maxDuration below 100ms', () => {
    expectInvalid(
      loose({ maxDuration: 99 }),
      'ChronoForgeModule: `maxDuration` must be at least 100ms.',
    );
    expectInvalid(loose({ maxDuration: '50ms' }), /at least 100ms/);
  });

  it('should reject retry options that are not strategies, naming the option', () => {
    expectInvalid(loose({ defaultRetry: 3 }), /`defaultRetry` must be a RetryPolicy/);
    expectInvalid(
      loose({ defaultStepRetry: { maxAttempts: 3 } }),
      /`defaultStepRetry` must be a RetryPolicy/,
    );
    expectInvalid(loose({ defaultRetry: null }), /`defaultRetry` must be a RetryPolicy/);
  });

  it('should reject an empty array of retry policies', () => {
    expectInvalid(loose({ defaultRetry: [] }), /at least one policy/);
  });
});

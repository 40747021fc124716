import type { LoggerService } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeModule,
  type ChronoForgeModuleOptions,
  DatabaseUnavailableError,
  QueueUnavailableError,
} from '../../lib/index.js';
import { probePostgres, probeRedis } from '../../sample-app/common/service-probe.js';
import { cleanup, DATABASE_URL, REDIS_AVAILABLE, REDIS_URL, uniqueName } from '../support/env.js';

// A space in it: a pattern that stops at whitespace printed such passwords in clear (issue 26).
const SECRET = 'S3cr3t Pa55w0rd';
/** The password's tail, however it was encoded. */
const LEAK = /Pa55w0rd/;

/** Everything the framework and the engine log while one application boots and stops. */
class CollectingLogger implements LoggerService {
  readonly lines: string[] = [];
  private keep =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) => {
      this.lines.push(
        [level, message, ...rest]
          .map((p) => (p instanceof Error ? `${p.message}\n${p.stack}` : String(p)))
          .join(' '),
      );
    };
  log = this.keep('log');
  error = this.keep('error');
  warn = this.keep('warn');
  debug = this.keep('debug');
  verbose = this.keep('verbose');
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** The message, stack and causes of an error, as a reader of the thrown error could see them. */
function everything(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(
      String(e),
      (e as Error).message ?? '',
      (e as Error).stack ?? '',
      JSON.stringify(e) ?? '',
    );
  }
  return parts.join('\n');
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
const within = (ms: number, promise: Promise<unknown>) =>
  Promise.race([promise, new Promise((r) => setTimeout(r, ms).unref())]);

/**
 * Boots ChronoForge with `options`, waits `settleMs`, and closes it; returns the boot error (if
 * any) and every log line. Boot and shutdown are bounded: while Redis does not answer, BullMQ
 * keeps reconnecting and neither completes.
 */
async function boot(options: ChronoForgeModuleOptions, settleMs = 0, initMs = 5_000) {
  const logger = new CollectingLogger();
  @Module({ imports: [ChronoForgeModule.forRoot(options)] })
  class SecretsAppModule {}
  let error: unknown;
  try {
    const moduleRef = await Test.createTestingModule({ imports: [SecretsAppModule] })
      .setLogger(logger)
      .compile();
    await within(initMs, moduleRef.init());
    await new Promise((r) => setTimeout(r, settleMs));
    await within(3_000, moduleRef.close());
  } catch (err) {
    error = err;
  }
  return { error, logs: logger.lines.join('\n') };
}

/** `url` with `user:SECRET@` as its credentials. */
const withSecret = (url: string, user: string) =>
  url.replace(/^([a-z]+:\/\/)([^@/]*@)?/, `$1${user}:${SECRET}@`);

describe('secrets in errors and logs (e2e)', () => {
  const schema = uniqueName('cf_secrets');
  const queueName = uniqueName('q_secrets');
  afterAll(() => cleanup(schema, queueName));

  it('should not show the database password when PostgreSQL is unreachable', async () => {
    const url = `postgres://chronoforge:${SECRET}@127.0.0.1:${await closedPort()}/test`;
    for (const queue of [{ postgres: true as const }, { redis: { url: REDIS_URL } }]) {
      if ('redis' in queue && !REDIS_AVAILABLE) continue;
      const { error, logs } = await boot({
        database: { url, schema },
        queue,
        queueName,
        worker: false,
      });
      // One named error, whichever backend: the queue waits for the database and fails with it.
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect((error as Error).message).toMatch(
        /^PostgreSQL at postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/test is not reachable: .*ECONNREFUSED.*\. Check that the server runs and accepts connections there, and database\.url/,
      );
      expect(everything(error)).not.toMatch(LEAK);
      expect(logs).not.toMatch(LEAK);
    }
    for (const probe of [await probePostgres(url, 500)]) {
      expect(probe.ok).toBe(false);
      expect(probe.reason).not.toMatch(LEAK);
    }
  });

  it('should not show the queue database password when the PostgreSQL queue is unreachable', async () => {
    const connectionString = `postgres://chronoforge:${SECRET}@127.0.0.1:${await closedPort()}/test`;
    const { error, logs } = await boot({
      database: { url: DATABASE_URL, schema },
      queue: { postgres: { connectionString } },
      queueName,
    });
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect((error as Error).message).toMatch(
      /^The PostgreSQL queue at postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/test is not reachable: .*ECONNREFUSED/,
    );
    expect(everything(error)).not.toMatch(LEAK);
    expect(logs).not.toMatch(LEAK);
  });

  it(
    'should not show the Redis password when Redis is unreachable or refuses it',
    { timeout: 40_000 },
    async () => {
      const unreachable = `redis://default:${SECRET}@127.0.0.1:${await closedPort()}`;
      const probe = await probeRedis(unreachable, 500);
      expect(probe.ok).toBe(false);
      expect(probe.reason).not.toMatch(LEAK);
      const { error, logs } = await boot(
        {
          database: { url: DATABASE_URL, schema },
          queue: { redis: { url: unreachable } },
          queueName,
        },
        0,
        15_000,
      );
      // Boot fails after REDIS_BOOT_TIMEOUT_MS with a named error instead of hanging.
      expect(error).toBeInstanceOf(QueueUnavailableError);
      expect((error as Error).message).toMatch(/did not answer within 10 s: .*ECONNREFUSED/);
      expect(everything(error)).not.toMatch(LEAK);
      // The error says it once; no "Queue error" line per reconnect attempt while boot waited.
      expect(logs).not.toMatch(/Queue error|Worker error|ECONNREFUSED/);
      expect(logs).not.toMatch(LEAK);
      if (!REDIS_AVAILABLE) return;
      const refused = withSecret(REDIS_URL, 'nobody');
      const wrong = await boot(
        { database: { url: DATABASE_URL, schema }, queue: { redis: { url: refused } }, queueName },
        0,
        15_000,
      );
      expect(wrong.error).toBeInstanceOf(QueueUnavailableError);
      expect(everything(wrong.error)).not.toMatch(LEAK);
      expect(wrong.logs).not.toMatch(LEAK);
    },
  );
});

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  InvalidOptionsError,
  WorkflowClient,
  type ChronoForgeModuleOptions,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_DIRECT_URL, DATABASE_URL, uniqueName } from '../support/env.js';
import { type PgBouncer, startPgBouncer } from './support/pgbouncer.js';
import { freePorts } from './support/processes.js';
import { StepCounter, topologyProviders } from './support/topology.fixture.js';

const QUEUES = ['redis', 'postgres'] as const;
const queueOption = (q: (typeof QUEUES)[number]): ChronoForgeModuleOptions['queue'] =>
  q === 'postgres'
    ? { postgres: true }
    : { redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } };

/**
 * PostgreSQL behind PgBouncer (npm run test:topology sets DATABASE_URL to a private PgBouncer in
 * transaction pooling mode and DATABASE_DIRECT_URL to the server itself).
 */
describe('PgBouncer (topology)', () => {
  const apps: Array<{ app: INestApplicationContext; schema: string; queueName: string }> = [];
  const boot = async (
    prefix: string,
    queue: (typeof QUEUES)[number],
    database: Partial<ChronoForgeModuleOptions['database']>,
  ) => {
    const schema = uniqueName(`cf_${prefix}`);
    const queueName = uniqueName(`q_${prefix}`);
    const entry = { schema, queueName, app: undefined as unknown as INestApplicationContext };
    apps.push(entry);
    entry.app = await bootApp({
      schema,
      queueName,
      providers: topologyProviders,
      options: {
        database: { url: DATABASE_URL, schema, poolSize: 4, ...database },
        queue: queueOption(queue),
        // No sweeper: a transactional start must be woken by the LISTEN on the direct URL.
        recovery: false,
      },
    });
    return entry.app;
  };
  let session: PgBouncer | undefined;
  const bouncer = (): { admin: PgBouncer['admin'] } => ({
    admin: async (command) => {
      const { port } = new URL(DATABASE_URL);
      const pg = await import('pg');
      const c = new pg.default.Client({
        connectionString: `postgres://postgres@127.0.0.1:${port}/pgbouncer`,
      });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.query(command)).rows as Record<string, unknown>[];
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  });
  afterAll(async () => {
    await session?.stop();
    for (const { app, schema, queueName } of apps.reverse()) {
      await app?.close();
      await cleanup(schema, queueName);
    }
  });

  it('should refuse to boot behind a transaction pooler without database.directUrl, naming it', async () => {
    const attempt = boot('tp_bad', 'redis', { pooler: 'transaction', directUrl: undefined });
    await expect(attempt).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(attempt).rejects.toThrow(/database\.directUrl/);
    await expect(attempt).rejects.toThrow(/LISTEN/);
  });

  it.each(QUEUES)(
    'should run steps, a timer, a signal and a transactional start through a transaction pooler (%s queue)',
    async (queue) => {
      expect(process.env.CHRONOFORGE_DB_POOLER).toBe('transaction');
      const app = await boot(`tp_${queue}`, queue, {
        pooler: 'transaction',
        directUrl: DATABASE_DIRECT_URL,
      });
      const client = app.get(WorkflowClient);
      const ds = app.get(ChronoForgeDatabase).dataSource;
      // A start, and a signal, committed in the application's transaction: only the LISTEN on the
      // direct URL wakes them (no sweeper).
      const tx = await ds.transaction((manager) =>
        client.start('topology.run', { key: 'tx', input: { signal: true }, manager }),
      );
      await ds.transaction((manager) =>
        client.signal('tx', 'go', { n: 5 }, { workflow: 'topology.run', manager }),
      );
      const plain = await client.start('topology.run', { key: 'plain', input: {} });
      await expect(tx.result({ timeout: '30s' })).resolves.toBe('done 7');
      await expect(plain.result({ timeout: '30s' })).resolves.toBe('done 3');
      const hits = app.get(StepCounter).hits;
      expect(['tx:a', 'tx:b', 'plain:a', 'plain:b'].map((k) => hits.get(k))).toEqual([1, 1, 1, 1]);
      // The engine's pool really is behind the pooler: PgBouncer lists its connections.
      const clients = await bouncer().admin('SHOW CLIENTS');
      expect(clients.some((c) => c.application_name === 'chronoforge')).toBe(true);
    },
  );

  it('should run a transactional start through a session pooler with no directUrl', async () => {
    const direct = new URL(DATABASE_DIRECT_URL ?? '');
    const [port] = await freePorts(1);
    session = await startPgBouncer({
      dir: await mkdtemp(join(tmpdir(), 'chronoforge-pgbouncer-session-')),
      port,
      mode: 'session',
      poolSize: 20,
      target: {
        host: direct.hostname,
        port: Number(direct.port),
        user: 'postgres',
        database: direct.pathname.slice(1),
      },
    });
    // BullMQ's PostgreSQL backend needs a direct connection (its search_path startup option).
    await expect(
      boot('tp_session_bad', 'postgres', { url: session.url, pooler: 'session' }),
    ).rejects.toThrow(/PostgreSQL queue backend.*database\.directUrl/);
    const app = await boot('tp_session', 'redis', { url: session.url, pooler: 'session' });
    const client = app.get(WorkflowClient);
    const ds = app.get(ChronoForgeDatabase).dataSource;
    const tx = await ds.transaction((manager) =>
      client.start('topology.run', { key: 'session', input: {}, manager }),
    );
    await expect(tx.result({ timeout: '30s' })).resolves.toBe('done 3');
    const clients = await session.admin('SHOW CLIENTS');
    expect(clients.some((c) => c.application_name === 'chronoforge')).toBe(true);
  });
});

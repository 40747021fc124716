import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { Job } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  ChronoForgeDatabase,
  Workflow,
  WorkflowClient,
  WorkflowContext,
  WorkflowQueue,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import {
  cleanup,
  DATABASE_URL,
  eventually,
  REDIS_AVAILABLE,
  REDIS_URL,
  sql,
  uniqueName,
} from '../support/env.js';

@Injectable()
class PgQueueWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('pgq.greet')
  async greet(input: { name: string }): Promise<string> {
    return this.ctx.step('hello', () => `hello ${input.name}`);
  }

  @Workflow('pgq.nap')
  async nap(input: { ms: number }): Promise<string> {
    await this.ctx.sleep(input.ms, 'nap');
    return 'rested';
  }
}

/** Rows of the engine's queue in BullMQ's PostgreSQL `job` table. */
const jobRows = (queueSchema: string, queueName: string) =>
  sql<{ id: string; name: string; state: string }>(
    `SELECT id, name, state::text FROM "${queueSchema}".job WHERE queue = $1 ORDER BY id`,
    [queueName],
  );

// These specs pin `queue: { postgres: true }` themselves, whatever CF_QUEUE says.
describe('PostgreSQL queue backend (e2e)', () => {
  const apps: INestApplicationContext[] = [];
  const dataSources: DataSource[] = [];
  const suites: Array<{ schema: string; queueName: string; extraSchema?: string }> = [];

  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const ds of dataSources) if (ds.isInitialized) await ds.destroy();
    for (const s of suites) {
      await cleanup(s.schema, s.queueName);
      if (s.extraSchema) await sql(`DROP SCHEMA IF EXISTS "${s.extraSchema}" CASCADE`);
    }
  });

  /** Boots the workflows on the PostgreSQL queue in a schema and queue of their own. */
  const bootPgQueue = async (prefix: string) => {
    const schema = uniqueName(`cf_${prefix}`);
    const queueName = uniqueName(`q_${prefix}`);
    suites.push({ schema, queueName });
    const app = await bootApp({
      schema,
      queueName,
      providers: [PgQueueWorkflows],
      options: { queue: { postgres: true } },
    });
    apps.push(app);
    return { app, schema, queueName, client: app.get(WorkflowClient) };
  };

  it('should run workflows with queue: { postgres: true }, keeping the jobs in PostgreSQL and none in Redis', async (ctx) => {
    const { app, schema, queueName, client } = await bootPgQueue('pgq');

    await expect(
      client
        .start('pgq.greet', { key: 'g-1', input: { name: 'pg' } })
        .then((h) => h.result({ timeout: '10s' })),
    ).resolves.toBe('hello pg');

    // A long sleep leaves its wake-up as a delayed job: a row of <schema>_bullmq.job. Completed jobs
    // are removed (removeOnComplete) as on Redis, so once the first pass finished it is the only row.
    const nap = await client.start('pgq.nap', { key: 'n-1', input: { ms: 3_600_000 } });
    const rows = await eventually(
      async () => {
        const found = await jobRows(`${schema}_bullmq`, queueName);
        return found.length === 1 && found[0].state === 'delayed' && found;
      },
      10_000,
      'only a delayed job row left',
    );
    expect(rows).toEqual([
      expect.objectContaining({
        name: 'run',
        state: 'delayed',
        id: expect.stringContaining(`run-${nap.id}-`),
      }),
    ]);
    const delayed = await app.get(WorkflowQueue).bullQueue.getJobs(['delayed']);
    expect(delayed.map((j) => j.id)).toEqual(rows.map((r) => r.id));

    if (!REDIS_AVAILABLE) {
      await ctx.annotate(
        'Redis is not available in this run: the "no Redis keys" check was not made',
      );
      return;
    }
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.keys(`bull:${queueName}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('should leave delayed wake-ups to the PostgreSQL worker instead of promoting them itself', async () => {
    // Regression: the engine promoted its own delayed jobs at their wake time (a Redis speed-up).
    // BullMQ's PostgreSQL promote() checks the state and updates in two steps, so racing the
    // worker's own claim put a claimed job back to waiting: it ran twice ("Lock mismatch").
    const promote = vi.spyOn(Job.prototype, 'promote');
    try {
      const { client } = await bootPgQueue('pgqw');
      const handles = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          client.start('pgq.nap', { key: `wake-${i}`, input: { ms: 150 } }),
        ),
      );
      for (const h of handles) await expect(h.result({ timeout: '15s' })).resolves.toBe('rested');
      expect(promote).not.toHaveBeenCalled();
    } finally {
      promote.mockRestore();
    }
  });

  it("should take the queue's connection from a DataSource's host/port/user/database, in an explicit schema", async () => {
    const schema = uniqueName('cf_pgqds');
    const queueName = uniqueName('q_pgqds');
    const queueSchema = `${schema}_jobs`;
    suites.push({ schema, queueName, extraSchema: queueSchema });
    const url = new URL(DATABASE_URL);
    const dataSource = new DataSource({
      type: 'postgres',
      host: url.hostname,
      port: Number(url.port || 5432),
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password) || undefined,
      database: url.pathname.slice(1),
      poolSize: 3,
    });
    dataSources.push(dataSource);
    const app = await bootApp({
      schema,
      queueName,
      providers: [PgQueueWorkflows],
      options: { database: { dataSource, schema }, queue: { postgres: { schema: queueSchema } } },
    });
    apps.push(app);
    expect(app.get(ChronoForgeDatabase).dataSource).toBe(dataSource);
    expect((await app.get(ChronoForgeDatabase).endpoint()).connectionString).toBeUndefined();
    const client = app.get(WorkflowClient);
    await expect(
      client
        .start('pgq.greet', { key: 'g-ds', input: { name: 'ds' } })
        .then((h) => h.result({ timeout: '10s' })),
    ).resolves.toBe('hello ds');
    const tables = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'job'`,
      [queueSchema],
    );
    expect(tables[0].n).toBe(1);
    const defaultSchema = await sql(
      `SELECT 1 FROM information_schema.schemata WHERE schema_name = $1`,
      [`${schema}_bullmq`],
    );
    expect(defaultSchema).toHaveLength(0);
  });
});

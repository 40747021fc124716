import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { defaultQueueSchema } from '../../lib/options/resolve-options.js';
import { PoolFaultProbe, poolFaultProviders } from '../fixtures/pool-connect-fault.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, sql, uniqueName } from '../support/env.js';

/**
 * A step's checkpoint takes a pooled connection before it writes. When PostgreSQL refuses a new
 * connection (53300: `max_connections` or the role's limit reached by other clients), that is an
 * infrastructure fault like a failed statement: the pass ends with EngineFaultError and a later
 * pass runs the step again. It reached the workflow as an ordinary error, so a catch-all went on
 * without the step (found by the fuzz suite on a busy shared server). The fault is real: the app
 * connects as a role with a connection limit; while the step body runs, the test closes the
 * pool's connections and takes the role's free slots, then lets the body return.
 */
describe('a refused connection at a checkpoint (e2e)', () => {
  const schema = uniqueName('cf_poolf');
  const queueName = uniqueName('q_poolf');
  const role = uniqueName('cf_role');
  const limit = 30;
  const url = new URL(DATABASE_URL);
  url.username = role;
  url.password = '';
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: PoolFaultProbe;

  beforeAll(async () => {
    await sql(`CREATE ROLE "${role}" LOGIN CONNECTION LIMIT ${limit}`);
    await sql(`GRANT CREATE ON DATABASE "${url.pathname.slice(1)}" TO "${role}"`);
    await sql(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
    await sql(`CREATE SCHEMA "${defaultQueueSchema(schema)}" AUTHORIZATION "${role}"`);
    app = await bootApp({
      schema,
      queueName,
      providers: poolFaultProviders,
      options: { database: { url: url.toString(), schema, poolSize: 2 } },
    });
    client = app.get(WorkflowClient);
    probe = app.get(PoolFaultProbe);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
    await sql(`DROP OWNED BY "${role}"`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS "${role}"`);
  });

  /** Opens connections as the role until PostgreSQL refuses one; returns them. */
  async function takeFreeSlots(): Promise<pg.Client[]> {
    const held: pg.Client[] = [];
    for (let i = 0; i <= limit; i++) {
      const c = new pg.Client({ connectionString: url.toString() });
      c.on('error', () => undefined);
      try {
        await c.connect();
      } catch (err) {
        expect((err as { code?: string }).code).toBe('53300');
        return held;
      }
      held.push(c);
    }
    throw new Error(`the role's connection limit (${limit}) did not apply`);
  }

  /**
   * Closes the engine pool's connections and takes every free slot of the role, until the pool has
   * none left (its sweeps reconnect while slots are free): its next checkout must connect anew.
   */
  async function starvePool(): Promise<pg.Client[]> {
    const held: pg.Client[] = [];
    for (let round = 0; round < 20; round++) {
      held.push(...(await takeFreeSlots()));
      const pooled = await sql<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE usename = $1 AND application_name = 'chronoforge'`,
        [role],
      );
      if (pooled.length === 0) return held;
      await sql(`SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, [
        pooled.map((p) => p.pid),
      ]);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the engine pool kept a connection');
  }

  it('should end the pass and run the step again, whatever the workflow catches', async () => {
    const key = 'refused';
    const handle = await client.start('poolfault.catchAll', { key });
    await probe.entered;
    const held = await starvePool();
    probe.open();
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all(held.map((c) => c.end()));
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      charged: `charged ${key}`,
      caught: null,
    });
    expect(probe.bodies).toBe(2);
  });
});

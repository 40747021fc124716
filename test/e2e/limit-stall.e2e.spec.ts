import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp, testModuleOptions } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

const schema = uniqueName('cf_limstall');
const queueName = uniqueName('q_limstall');
/** The lock's lifetime: the stalled admission below outlasts it. */
const MAX_DURATION_MS = 1_000;
const STALL_S = 1.6;

@Injectable()
class StallWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  /** One rate-limited step; its body records how old its pass's lock was when it started. */
  @Workflow('stall.limited', { maxDuration: `${MAX_DURATION_MS}ms` })
  async limited(): Promise<string> {
    return this.ctx.step(
      'call',
      async () => {
        await sql(
          `INSERT INTO "${schema}".stall_bodies (run, lock_age_ms)
           SELECT key, extract(epoch FROM clock_timestamp() - locked_at) * 1000
           FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
          [this.ctx.key],
        );
        return 'ok';
      },
      { limit: 'api' },
    );
  }

  /** One step under `single` (1 a second); its body records when it started. */
  @Workflow('stall.paced')
  async paced(): Promise<string> {
    return this.ctx.step(
      'call',
      async () => {
        await sql(`INSERT INTO "${schema}".paced_bodies (run, started_ms) VALUES ($1, $2)`, [
          this.ctx.key,
          Date.now(),
        ]);
        return 'ok';
      },
      { limit: 'single' },
    );
  }

  /** One step under `both` (a concurrency and 1 a second); its body records when it started. */
  @Workflow('stall.both')
  async both(): Promise<string> {
    return this.ctx.step(
      'call',
      async () => {
        await sql(`INSERT INTO "${schema}".paced_bodies (run, started_ms) VALUES ($1, $2)`, [
          this.ctx.key,
          Date.now(),
        ]);
        return 'ok';
      },
      { limit: 'both' },
    );
  }

  /** One step under `short` (a 5 ms window: its guard is 0 ms, below any database round trip). */
  @Workflow('stall.short')
  async short(): Promise<string> {
    return this.ctx.step('call', () => 'ok', { limit: 'short' });
  }
}

/**
 * A pass stalled between its limit admission and its step's body (a CPU-starved or freshly booting
 * worker; here the admission's statement itself takes longer than the lock's lifetime, which also
 * makes the grant late, so the step asks for a new grant before the body): the lock went stale and
 * another pass took the run over meanwhile. Found by the chaos suite's limited runs (a body run by
 * a pass that no longer held the lock, after the step's log had committed). The pass must not start
 * the body: the lease is checked again right before the body, after the admission (and a new one).
 */
describe('limited step after a stalled admission (e2e)', () => {
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    const base = testModuleOptions({ schema, queueName });
    app = await bootApp({
      schema,
      queueName,
      providers: [StallWorkflows],
      options: {
        worker: { concurrency: 4 },
        recovery: { every: '200ms' },
        limits: {
          api: { rate: { limit: 5, per: '1s' } },
          single: { rate: { limit: 1, per: '1s' } },
          short: { rate: { limit: 5, per: '5ms' } },
          both: { concurrency: 5, rate: { limit: 1, per: '1s' } },
        },
        database: { ...base.database, poolSize: 8 },
      },
    });
    client = app.get(WorkflowClient);
    const s = `"${schema}"`;
    await sql(
      `CREATE TABLE ${s}.stall_bodies (id bigserial PRIMARY KEY, run text, lock_age_ms float8)`,
    );
    await sql(
      `CREATE TABLE ${s}.paced_bodies (id bigserial PRIMARY KEY, run text, started_ms bigint)`,
    );
    // The first rate grant's statement sleeps past the lock's lifetime (once).
    await sql(`CREATE TABLE ${s}.stall_once (armed boolean)`);
    await sql(`INSERT INTO ${s}.stall_once VALUES (true)`);
    await sql(`CREATE FUNCTION ${s}.stall_grant() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM ${s}.stall_once) THEN
          DELETE FROM ${s}.stall_once;
          PERFORM pg_sleep(${STALL_S});
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER stall_grant BEFORE UPDATE ON ${s}.chrono_forge_limit_keys
      FOR EACH ROW EXECUTE FUNCTION ${s}.stall_grant()`);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should not start the body on a stale lock: one body, run within its pass lease', async () => {
    const handle = await client.start('stall.limited', { key: 'stalled' });
    await expect(handle.result({ timeout: '30s' })).resolves.toBe('ok');
    expect(await sql(`SELECT 1 FROM "${schema}".stall_once`)).toHaveLength(0); // the stall fired
    const bodies = await sql<{ lock_age_ms: number }>(
      `SELECT lock_age_ms FROM "${schema}".stall_bodies ORDER BY id`,
    );
    expect(bodies).toHaveLength(1);
    expect(bodies[0].lock_age_ms).toBeLessThan(MAX_DURATION_MS);
  }, 60_000);

  it('should ask again for a grant its body could not use in time, never 2 bodies of a 1/s limit in a second', async () => {
    // A's grant statement stalls 3 s after taking its grant, the key's row locked meanwhile. B asks
    // 1.5 s in (A's grant has left B's window), waits for the row, and gets the grant the moment A
    // commits; the key keeps only its newest grant, B's. Both grants are late. Moving A's grant to
    // its body's start (before) found it gone and started A's body anyway, a few ms from B's.
    await sql(`INSERT INTO "${schema}".stall_once VALUES (true)`);
    await sql(`CREATE OR REPLACE FUNCTION "${schema}".stall_grant() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'single' AND EXISTS (SELECT 1 FROM "${schema}".stall_once) THEN
          DELETE FROM "${schema}".stall_once;
          PERFORM pg_sleep(3);
        END IF;
        RETURN NEW;
      END $$`);
    const a = await client.start('stall.paced', { key: 'paced-a' });
    await new Promise((r) => setTimeout(r, 1_500)); // A is inside its stalled grant
    const b = await client.start('stall.paced', { key: 'paced-b' });
    for (const h of [a, b]) await expect(h.result({ timeout: '30s' })).resolves.toBe('ok');
    expect(await sql(`SELECT 1 FROM "${schema}".stall_once`)).toHaveLength(0); // the stall fired
    const starts = (
      await sql<{ started_ms: string }>(`SELECT started_ms FROM "${schema}".paced_bodies`)
    ).map((r) => Number(r.started_ms));
    expect(starts).toHaveLength(2);
    expect(Math.abs(starts[1] - starts[0])).toBeGreaterThanOrEqual(1_000);
  }, 60_000);

  it('should start the body of a step whose window is shorter than a round trip (no endless asking)', async () => {
    // Every grant of a 5 ms window is late (its guard is 0 ms): asking again for as long as the
    // grant is late never ends (before: the pass spun on new grants, the run never completed).
    const handle = await client.start('stall.short', { key: 'short' });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('ok');
  }, 60_000);

  it('should ask again for a late grant of a limit that also has a concurrency (its slot held)', async () => {
    // As above, under a limit with a concurrency too: A holds its slot when it asks again, and the
    // acquire skips the rate of a slot already held (before: no new grant, A's body a few ms from B's).
    await sql(`DELETE FROM "${schema}".paced_bodies`);
    await sql(`INSERT INTO "${schema}".stall_once VALUES (true)`);
    await sql(`CREATE OR REPLACE FUNCTION "${schema}".stall_grant() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'both' AND EXISTS (SELECT 1 FROM "${schema}".stall_once) THEN
          DELETE FROM "${schema}".stall_once;
          PERFORM pg_sleep(3);
        END IF;
        RETURN NEW;
      END $$`);
    const a = await client.start('stall.both', { key: 'both-a' });
    await new Promise((r) => setTimeout(r, 1_500)); // A is inside its stalled grant
    const b = await client.start('stall.both', { key: 'both-b' });
    for (const h of [a, b]) await expect(h.result({ timeout: '30s' })).resolves.toBe('ok');
    expect(await sql(`SELECT 1 FROM "${schema}".stall_once`)).toHaveLength(0); // the stall fired
    const starts = (
      await sql<{ started_ms: string }>(`SELECT started_ms FROM "${schema}".paced_bodies`)
    ).map((r) => Number(r.started_ms));
    expect(starts).toHaveLength(2);
    expect(Math.abs(starts[1] - starts[0])).toBeGreaterThanOrEqual(1_000);
  }, 60_000);
});

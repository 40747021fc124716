import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { ChronoForgeMetrics } from '../../lib/observability/chrono-forge-metrics.js';
import { TimerStore } from '../../lib/timers/timer.store.js';
import { persistProviders } from '../fixtures/persist.fixture.js';
import { DATABASE_URL, eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  return client;
}

/** Every write of a pass is fenced atomically: none commits after a takeover of the run's lock. */
describe('fencing of a pass writes (e2e)', () => {
  const suite = suiteApp('fence', persistProviders);
  const { schema } = suite;
  const wf = `"${schema}".chrono_forge_workflows`;
  const logs = `"${schema}".chrono_forge_execution_logs`;
  const signals = `"${schema}".chrono_forge_signals`;
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
  });

  it('should make a takeover wait for a checkpoint in flight instead of committing before it', async () => {
    const lockKey = Math.floor(Math.random() * 1e9);
    // The checkpoint of step$held waits (inside its statement, after its fence) on a lock the test
    // holds: it is in flight while the test takes the run's lock over.
    await sql(`CREATE FUNCTION "${schema}".hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock_shared(${lockKey}); RETURN NEW; END $$`);
    await sql(`CREATE TRIGGER hold BEFORE INSERT ON ${logs} FOR EACH ROW
      WHEN (NEW.step_name = 'step$held') EXECUTE FUNCTION "${schema}".hold()`);
    const holder = await connect();
    const thief = await connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [lockKey]);
      await client.start('persist.fenced', { key: 'fence-1' });
      await eventually(
        async () => {
          const rows = await sql(
            `SELECT pid FROM pg_stat_activity WHERE wait_event = 'advisory' AND query LIKE $1 AND query LIKE '%chrono_forge_execution_logs%'`,
            [`%${schema}%`],
          );
          return rows.length > 0;
        },
        15_000,
        'the checkpoint of step$held to be in flight',
      );
      const [{ pid }] = (await thief.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      // What another worker's acquire does to a stale lock, in a transaction that then lists the
      // logs it sees: once its UPDATE holds the row, no fenced write of the old pass can commit.
      await thief.query('BEGIN');
      let tookOver = false;
      const takeover = thief
        .query(`UPDATE ${wf} SET locked_by = 'thief/1', locked_at = now() WHERE key = 'fence-1'`)
        .then(() => (tookOver = true));
      const seen = await eventually(async () => {
        if (tookOver) return 'took the row while the checkpoint was in flight';
        const rows = await sql(
          `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
          [pid],
        );
        return rows.length > 0 ? 'waited for the checkpoint' : undefined;
      });
      await holder.query('SELECT pg_advisory_unlock($1)', [lockKey]);
      await takeover;
      const logsOf = `SELECT l.step_name FROM ${logs} l JOIN ${wf} w ON w.id = l.workflow_id
        WHERE w.key = 'fence-1' ORDER BY l.id`;
      const visible = (await thief.query<{ step_name: string }>(logsOf)).rows;
      await thief.query('COMMIT');
      // The old pass goes on until a write of it is refused.
      const metrics = app.get(ChronoForgeMetrics);
      await eventually(
        async () => {
          const { values } = await metrics.passes.get();
          return values.some(
            (v) => v.labels.workflow === 'persist.fenced' && v.labels.outcome === 'lock_lost',
          );
        },
        15_000,
        'the old pass to find its lock gone',
      );
      const after = await sql<{ step_name: string }>(logsOf);
      expect(seen).toBe('waited for the checkpoint');
      expect(after).toEqual(visible);
      expect(after.map((r) => r.step_name)).toContain('step$held');
      const [run] = await sql<{ locked_by: string }>(
        `SELECT locked_by FROM ${wf} WHERE key = 'fence-1'`,
      );
      expect(run.locked_by).toBe('thief/1');
    } finally {
      await holder.end();
      await thief.end();
      await client.cancel('fence-1').catch(() => undefined);
    }
  });

  it('should not consume a signal for a signal step that is already completed', async () => {
    const [run] = await sql<{ id: string }>(
      `INSERT INTO ${wf} (key, job_name, input, max_duration_ms, state, locked_by, locked_at)
       VALUES ('sig-guard', 'persist.none', 'null', 60000, 'running', 'me/1', now()) RETURNING id`,
    );
    await sql(
      `INSERT INTO ${logs} (workflow_id, step_name, state, attempts, result, metadata)
       VALUES ($1, 'signal$go', 'completed', 1, '{"json":"first"}', '{}')`,
      [run.id],
    );
    await sql(
      `INSERT INTO ${signals} (workflow_id, name, payload) VALUES ($1, 'go', '{"json":"second"}')`,
      [run.id],
    );
    const consumed = await app
      .get(TimerStore)
      .consumeSignal(run.id, 'me/1', 'signal$go', 'go', 2, {});
    expect(consumed).toBeNull();
    const [log] = await sql<{ result: unknown; attempts: number }>(
      `SELECT result, attempts FROM ${logs} WHERE workflow_id = $1 AND step_name = 'signal$go'`,
      [run.id],
    );
    expect(log).toEqual({ result: { json: 'first' }, attempts: 1 });
    const left = await sql(
      `SELECT 1 FROM ${signals} WHERE workflow_id = $1 AND consumed_at IS NULL`,
      [run.id],
    );
    expect(left).toHaveLength(1);
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultTimeoutError, WorkflowClient } from '../../lib/index.js';
import { resultPollFaultProviders } from '../fixtures/result-poll-fault.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, eventually, sql, uniqueName } from '../support/env.js';
import { limitedRole } from '../support/limited-role.js';

/**
 * `handle.result()` polls the run's row. A transient PostgreSQL fault during a poll (a refused
 * connection, a terminated one) is not the run's outcome: the poll is tried again with backoff
 * until the timeout. The faults are real: the app connects as a role with a connection limit
 * whose free slots the test takes (53300), or the test terminates the backend of a poll it
 * holds up behind a table lock (57P01).
 */
describe('handle.result() across transient database faults (e2e)', () => {
  const schema = uniqueName('cf_rpoll');
  const queueName = uniqueName('q_rpoll');
  const role = limitedRole(30);
  const errors = `"${schema}".chrono_forge_error_logs`;
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    await role.create(schema);
    app = await bootApp({
      schema,
      queueName,
      providers: resultPollFaultProviders,
      options: { database: { url: role.url, schema, poolSize: 2 } },
    });
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
    await role.drop();
  });

  /** Starts a run and waits until it completed, read from outside the app. */
  async function completedRun(key: string) {
    const handle = await client.start('pollfault.quick', { key, input: { n: 21 } });
    await eventually(async () => {
      const rows = await sql<{ state: string }>(
        `SELECT state FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
        [key],
      );
      return rows[0]?.state === 'completed';
    });
    return handle;
  }

  it('should retry a poll refused with 53300 and return the result', async () => {
    const handle = await completedRun('refused');
    const held = await role.starvePool();
    let outcome: { value?: unknown; error?: unknown } | undefined;
    const result = handle.result({ timeout: '20s' }).then(
      (value) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
    try {
      // The polls meet the refusal for a while: result() must still be waiting, not rejected.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(outcome).toBeUndefined();
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
    await result;
    expect(outcome).toEqual({ value: 42 });
  });

  it('should give up with ResultTimeoutError, the fault as its cause', async () => {
    const handle = await completedRun('still-refused');
    const held = await role.starvePool();
    try {
      const err = await handle.result({ timeout: '1s' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResultTimeoutError);
      expect((err as Error).cause).toMatchObject({ code: '53300' });
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
  });

  it('should retry a poll whose connection was terminated (57P01)', async () => {
    const handle = await completedRun('terminated');
    const locker = new pg.Client({ connectionString: DATABASE_URL });
    await locker.connect();
    try {
      // The poll reads the error log: held up behind this lock, its backend is terminated.
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${errors} IN ACCESS EXCLUSIVE MODE`);
      let outcome: { value?: unknown; error?: unknown } | undefined;
      const result = handle.result({ timeout: '20s' }).then(
        (value) => (outcome = { value }),
        (error: unknown) => (outcome = { error }),
      );
      const terminated = await eventually(async () => {
        const rows = await sql<{ terminated: boolean }>(
          `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
            WHERE usename = $1 AND wait_event_type = 'Lock' AND query LIKE '%rolled_back%'`,
          [role.name],
        );
        return rows.length > 0 && rows;
      });
      expect(terminated.every((r) => r.terminated)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(outcome).toBeUndefined();
      await locker.query('COMMIT');
      await result;
      expect(outcome).toEqual({ value: 42 });
    } finally {
      await locker.end();
    }
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { SqlErrorProbe, sqlErrorProviders } from '../fixtures/step-sql-errors.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

/**
 * A transactional step's checkpoint and COMMIT run in the transaction of the body's own
 * statements. When those statements make them fail — the body swallowed a failed statement, so
 * the transaction is aborted (25P02), or a deferred constraint fails at COMMIT (23503) — the
 * failure is the step's, like any error of its body: the step's retry policy decides and counts
 * its attempts. It is not an engine fault (which re-runs the body in a later pass, uncounted,
 * for ever when the cause is permanent). Likewise an error whose name PostgreSQL cannot store (a
 * NUL character): its error record is stored escaped, as its message is, instead of failing the
 * engine's write (a fault re-running the step for ever; at the end of a pass, retried until
 * maxDuration).
 */
describe('failures of user statements and user errors are not engine faults (e2e)', () => {
  const schema = uniqueName('cf_sqlerr');
  const queueName = uniqueName('q_sqlerr');
  const wf = `"${schema}".chrono_forge_workflows`;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: SqlErrorProbe;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: sqlErrorProviders });
    client = app.get(WorkflowClient);
    probe = app.get(SqlErrorProbe);
    probe.schema = schema;
    await sql(`CREATE TABLE "${schema}".items (key text PRIMARY KEY)`);
    await sql(`CREATE TABLE "${schema}".orders (id int PRIMARY KEY)`);
    await sql(`CREATE TABLE "${schema}".lines (key text NOT NULL, order_id int NOT NULL
      REFERENCES "${schema}".orders (id) DEFERRABLE INITIALLY DEFERRED)`);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  async function runRow(key: string): Promise<{ state: string; attempt: number }> {
    const [row] = await sql<{ state: string; attempt: number }>(
      `SELECT state, attempt FROM ${wf} WHERE key = $1`,
      [key],
    );
    return row;
  }

  async function errorLogs(key: string): Promise<Array<{ error_class: string; message: string }>> {
    return sql<{ error_class: string; message: string }>(
      `SELECT e.error_class, e.error_message AS message FROM "${schema}".chrono_forge_error_logs e
         JOIN ${wf} w ON w.id = e.workflow_id WHERE w.key = $1 ORDER BY e.id`,
      [key],
    );
  }

  it('should fail the step by its retry policy when the body swallowed a failed statement (25P02)', async () => {
    const key = 'swallowed';
    const handle = await client.start('sqlerr.swallowed', { key });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      failed: {
        attempts: 2,
        cause: 'TransactionAbortedError',
        code: 'CHRONOFORGE_TRANSACTION_ABORTED',
      },
    });
    expect(probe.count(key)).toBe(2);
    // Both attempts rolled back their first insert with the aborted transaction.
    expect(await sql(`SELECT key FROM "${schema}".items WHERE key = $1`, [key])).toHaveLength(0);
    const errors = await errorLogs(key);
    expect(errors.map((e) => e.error_class)).toEqual([
      'TransactionAbortedError',
      'TransactionAbortedError',
    ]);
    expect(errors[0].message).toContain('step$insertTwiceSwallowed');
    expect(await runRow(key)).toEqual({ state: 'completed', attempt: 0 });
  });

  it('should fail the step by its retry policy when a deferred constraint fails at COMMIT (23503)', async () => {
    const key = 'deferred';
    const handle = await client.start('sqlerr.deferred', { key });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      failed: { attempts: 2, cause: 'QueryFailedError', code: '23503' },
    });
    expect(probe.count(key)).toBe(2);
    expect(await sql(`SELECT key FROM "${schema}".lines WHERE key = $1`, [key])).toHaveLength(0);
    expect(await runRow(key)).toEqual({ state: 'completed', attempt: 0 });
  });

  it('should record a step error whose name holds a NUL character (escaped) and apply the policy', async () => {
    const key = 'nul-step';
    const handle = await client.start('sqlerr.nulStep', { key });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      failed: { attempts: 2, cause: 'Refused<NUL>Error', code: undefined },
    });
    expect(probe.count(key)).toBe(2);
    expect((await errorLogs(key)).map((e) => e.error_class)).toEqual([
      'Refused\\u0000Error',
      'Refused\\u0000Error',
    ]);
  });

  it('should fail a run whose workflow error has a NUL in its name at once, not retry its release', async () => {
    const key = 'nul-workflow';
    const handle = await client.start('sqlerr.nulWorkflow', { key });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/refused/);
    expect(probe.count(key)).toBe(1);
    expect((await runRow(key)).state).toBe('failed');
    expect((await errorLogs(key)).map((e) => e.error_class)).toEqual(['Refused\\u0000Error']);
  });

  it('should fail the step by its retry policy when its statement fails in the body (23505)', async () => {
    const key = 'escaped';
    const handle = await client.start('sqlerr.escaped', { key });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      failed: { attempts: 2, cause: 'QueryFailedError', code: '23505' },
    });
    expect(probe.count(key)).toBe(2);
    expect(await sql(`SELECT key FROM "${schema}".items WHERE key = $1`, [key])).toHaveLength(0);
  });
});

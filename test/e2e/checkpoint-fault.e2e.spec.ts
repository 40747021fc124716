import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { CheckpointProbe, checkpointProviders } from '../fixtures/checkpoint-fault.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * A failed statement of the engine itself (here a step's checkpoint INSERT: deadlock, statement
 * timeout, connection reset) is an infrastructure fault, not the step's outcome: even when the
 * workflow wraps the step in a catch-all, the pass ends and a later pass runs the step again and
 * records it. The fault is injected at the database: a trigger on the suite's own execution_logs
 * table fails the checkpoint INSERT of one step of one run, once.
 */
describe('a failed checkpoint under a catch-all (e2e)', () => {
  const suite = suiteApp('ckpt', checkpointProviders);
  const { schema } = suite;
  const wf = `"${schema}".chrono_forge_workflows`;
  const logs = `"${schema}".chrono_forge_execution_logs`;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: CheckpointProbe;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    probe = app.get(CheckpointProbe);
    probe.schema = schema;
    await sql(`CREATE TABLE "${schema}".charges (id serial PRIMARY KEY, key text NOT NULL)`);
    // A sequence counts the tries: unlike a table, it is not rolled back with the failed statement.
    await sql(`CREATE TABLE "${schema}".faults (key text NOT NULL, step_name text NOT NULL,
      errcode text NOT NULL, tries text NOT NULL, PRIMARY KEY (key, step_name))`);
    await sql(`CREATE FUNCTION "${schema}".fail_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE f record;
      BEGIN
        SELECT fa.* INTO f FROM "${schema}".faults fa JOIN ${wf} w ON w.key = fa.key
         WHERE w.id = NEW.workflow_id AND fa.step_name = NEW.step_name;
        IF FOUND AND NEW.state = 'completed' AND nextval(f.tries::regclass) = 1 THEN
          RAISE EXCEPTION 'injected fault on checkpoint %', NEW.step_name USING ERRCODE = f.errcode;
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER fail_checkpoint BEFORE INSERT ON ${logs} FOR EACH ROW
      EXECUTE FUNCTION "${schema}".fail_checkpoint()`);
  });

  async function injectOnce(key: string, stepName: string, errcode: string): Promise<string> {
    const tries = `"${schema}"."tries_${key.replace(/-/g, '_')}"`;
    await sql(`CREATE SEQUENCE ${tries}`);
    await sql(`INSERT INTO "${schema}".faults VALUES ($1, $2, $3, $4)`, [
      key,
      stepName,
      errcode,
      tries,
    ]);
    return tries;
  }

  async function firedTimes(tries: string): Promise<number> {
    const [{ last_value: made }] = await sql<{ last_value: string }>(
      `SELECT last_value FROM ${tries}`,
    );
    return Number(made);
  }

  async function stepLog(key: string, stepName: string): Promise<{ state: string } | undefined> {
    const rows = await sql<{ state: string }>(
      `SELECT l.state FROM ${logs} l JOIN ${wf} w ON w.id = l.workflow_id
        WHERE w.key = $1 AND l.step_name = $2`,
      [key, stepName],
    );
    return rows[0];
  }

  it.each([
    ['deadlock', '40P01'],
    ['connection failure', '08006'],
  ])('should record a caught step whose checkpoint failed once (%s)', async (_label, errcode) => {
    const key = `ckpt-${errcode}`;
    const tries = await injectOnce(key, 'step$charge', errcode);
    const handle = await client.start('checkpoint.catchAll', { key });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      charged: `charged ${key}`,
      notified: 'notified',
    });
    expect(await firedTimes(tries)).toBeGreaterThanOrEqual(2);
    expect(await stepLog(key, 'step$charge')).toEqual({ state: 'completed' });
    // The body whose checkpoint failed ran again (at-least-once); nothing after it ran twice.
    expect(probe.count(key, 'charge')).toBe(2);
    expect(probe.count(key, 'notify')).toBe(1);
    // Not an attempt of the workflow: the fault was the engine's, not the workflow's.
    const [run] = await sql<{ attempt: number }>(`SELECT attempt FROM ${wf} WHERE key = $1`, [key]);
    expect(run.attempt).toBe(0);
  });

  it('should write a caught transactional step exactly once when its checkpoint failed once', async () => {
    const key = 'ckpt-tx';
    const tries = await injectOnce(key, 'step$chargeTx', '40P01');
    const handle = await client.start('checkpoint.catchAllTx', { key });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      charged: `charged ${key} in a transaction`,
      notified: 'notified',
    });
    expect(await firedTimes(tries)).toBeGreaterThanOrEqual(2);
    expect(await stepLog(key, 'step$chargeTx')).toEqual({ state: 'completed' });
    expect(probe.count(key, 'chargeTx')).toBe(2);
    // The first body's insert rolled back with its failed checkpoint.
    const charges = await sql(`SELECT id FROM "${schema}".charges WHERE key = $1`, [key]);
    expect(charges).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import {
  AbandonedAttemptWorkflows,
  abandonedAttempts,
  FaultyAttributeWorkflows,
} from '../fixtures/attributes-fault.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * A failing statement in an attribute write (a trigger armed by a row of `boom_armed` refuses an
 * update that sets `boom`): the pass ends as an engine fault even when the workflow catches the
 * failure, the run stays consistent, and once the fault is gone a later pass sets the attribute.
 */
describe('search attributes: a failing attribute write is an engine fault (e2e)', () => {
  const suite = suiteApp('attrfault', [FaultyAttributeWorkflows, AbandonedAttemptWorkflows]);
  const s = `"${suite.schema}"`;
  const steps = async (key: string) =>
    (
      await sql<{ step_name: string; state: string }>(
        `SELECT l.step_name, l.state FROM ${s}.chrono_forge_execution_logs l
         JOIN ${s}.chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 ORDER BY l.id`,
        [key],
      )
    ).map((r) => `${r.step_name}:${r.state}`);

  const arm = async () => {
    await sql(`CREATE TABLE IF NOT EXISTS ${s}.boom_armed (id int)`);
    await sql(`INSERT INTO ${s}.boom_armed VALUES (1)`);
    await sql(`CREATE OR REPLACE FUNCTION ${s}.boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.attributes ? 'boom' AND EXISTS (SELECT 1 FROM ${s}.boom_armed) THEN
          RAISE EXCEPTION 'boom: attribute write refused';
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE OR REPLACE TRIGGER boom BEFORE UPDATE ON ${s}.chrono_forge_workflows
      FOR EACH ROW EXECUTE FUNCTION ${s}.boom()`);
  };

  it.each([
    ['attrs.faulty-body', 'body', ['attributes$set:completed']],
    ['attrs.faulty-step', 'step', []],
  ])('%s: ends the pass as an engine fault, then sets the attribute', async (wf, where, kept) => {
    const key = `fault-${where}`;
    await arm();
    const handle = await suite.client.start(wf, { key });
    // The first pass ended (it ran and released the run); a faulted pass is retried after 1 s.
    await eventually(async () => {
      const run = await suite.client.get(key);
      return run.startedAt !== null && run.lockedBy === null;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Nothing after the failed write was recorded, though the workflow caught its failure.
    expect(await steps(key)).toEqual(kept);
    expect((await suite.client.get(key)).state).not.toBe('completed');
    await sql(`DELETE FROM ${s}.boom_armed`);
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual([]);
    expect((await suite.client.get(key)).attributes).toMatchObject({ boom: where });
  });

  it('should not let an attempt abandoned by its timeout set attributes after the retry', async () => {
    const handle = await suite.client.start('attrs.abandoned', { key: 'abandoned-1' });
    await handle.result({ timeout: '20s' });
    expect(abandonedAttempts.get('abandoned-1')).toBe(2);
    expect((await suite.client.get('abandoned-1')).attributes).toEqual({ attempt: 2 });
  });
});

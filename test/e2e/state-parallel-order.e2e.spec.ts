import { describe, expect, it } from 'vitest';
import { StateOrderWorkflows } from '../fixtures/state-order.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteHarness } from '../support/suite.js';

/**
 * Two parallel steps that both change the durable state each write it with their checkpoint. When
 * the first checkpoint (carrying the older state) reaches the database after the second one
 * (carrying both changes), the stored state must still hold both: a crash before the pass ends
 * would otherwise lose the second step's change for good (its body never runs again).
 */
describe('durable state written by parallel checkpoints (e2e)', () => {
  const suite = suiteHarness([StateOrderWorkflows]);

  it('should keep both steps’ state when the older checkpoint commits last', async () => {
    const s = `"${suite.harness.schema}"`;
    const wf = `${s}.chrono_forge_workflows`;
    const input = { arm: `${s}.cf_arm`, fired: `${s}.cf_fired` };
    await sql(`CREATE SEQUENCE ${input.arm}; CREATE SEQUENCE ${input.fired}`);
    // Fault at the database: the first run-row write after step a armed the gate (step a's
    // checkpoint) is held back before it locks the row, so step b's checkpoint commits first.
    await sql(`CREATE FUNCTION ${s}.gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT is_called FROM ${input.arm}) THEN
          IF nextval('${input.fired}') = 1 THEN PERFORM pg_sleep(1.5); END IF;
        END IF;
        RETURN NULL;
      END $$`);
    await sql(`CREATE TRIGGER gate BEFORE UPDATE ON ${wf} FOR EACH STATEMENT
      EXECUTE FUNCTION ${s}.gate()`);
    // The pass cannot end (release/complete fail) until the test has read the stored state: only
    // the two checkpoints can have written it.
    await sql(`CREATE FUNCTION ${s}.no_end() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected end-of-pass fault' USING ERRCODE = '57014'; END $$`);
    await sql(`CREATE TRIGGER no_end BEFORE UPDATE ON ${wf} FOR EACH ROW
      WHEN (OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL) EXECUTE FUNCTION ${s}.no_end()`);
    try {
      await suite.harness.client.start('stateOrder.parallel', { key: 'both', input });
      const stored = await eventually(async () => {
        const [row] = await sql<{ context: Record<string, unknown>; done: string }>(
          `SELECT w.context, (SELECT count(*) FROM ${s}.chrono_forge_execution_logs l
             WHERE l.workflow_id = w.id AND l.state = 'completed') AS done
           FROM ${wf} w WHERE w.key = 'both'`,
        );
        return Number(row?.done) === 2 ? row : undefined;
      });
      expect(stored.context).toEqual({ a: 1, b: 2 });
    } finally {
      await sql(`DROP TRIGGER IF EXISTS no_end ON ${wf}; DROP TRIGGER IF EXISTS gate ON ${wf}`);
    }
    const run = await suite.harness.runToCompletion('both', { timeout: '20s' });
    expect(run).toMatchObject({ state: 'completed', result: { a: 1, b: 2 } });
  });

  it('should store state set in a @Repeat tick body with the tick, before the pass ends', async () => {
    const s = `"${suite.harness.schema}"`;
    const wf = `${s}.chrono_forge_workflows`;
    // Fault at the database: once a tick is recorded, the pass cannot end (release fails).
    await sql(`CREATE FUNCTION ${s}.no_end_ticks() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM ${s}.chrono_forge_execution_logs WHERE workflow_id = OLD.id
                   AND step_name LIKE 'durably\\_repeat$%$%' AND state = 'completed') THEN
          RAISE EXCEPTION 'injected end-of-pass fault' USING ERRCODE = '57014';
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER no_end_ticks BEFORE UPDATE ON ${wf} FOR EACH ROW
      WHEN (OLD.key = 'ticks' AND OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL)
      EXECUTE FUNCTION ${s}.no_end_ticks()`);
    try {
      await suite.harness.client.start('stateOrder.ticks', { key: 'ticks' });
      const stored = await eventually(async () => {
        const [row] = await sql<{ context: Record<string, unknown>; ticks: string }>(
          `SELECT w.context, (SELECT count(*) FROM ${s}.chrono_forge_execution_logs l
             WHERE l.workflow_id = w.id AND l.step_name LIKE 'durably\\_repeat$%$%'
               AND l.state = 'completed') AS ticks
           FROM ${wf} w WHERE w.key = 'ticks'`,
        );
        return Number(row?.ticks) === 1 ? row : undefined;
      });
      // A crash now replays the run without running the tick body again.
      expect(stored.context).toEqual({ ticks: 1 });
    } finally {
      await sql(`DROP TRIGGER IF EXISTS no_end_ticks ON ${wf}`);
    }
    const run = await suite.harness.runToCompletion('ticks', { timeout: '20s' });
    expect(run).toMatchObject({ state: 'completed', result: 2 });
  });
});

import { describe, expect, it } from 'vitest';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { persistProviders } from '../fixtures/persist.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteHarness } from '../support/suite.js';

/**
 * Durable state changed before a checkpoint is stored by that checkpoint: a crash right after it
 * (the step body never runs again) must not lose it.
 */
describe('durable state is durable with the next checkpoint (e2e)', () => {
  const suite = suiteHarness(persistProviders);

  it.each([
    ['persist.fromStep', { state: 'completed', result: { fromStep: 'A' } }],
    ['persist.setOnce', { state: 'completed', result: { agrees: true } }],
  ])('should end every crash variant of "%s" like the clean run', async (workflow, expected) => {
    const report = await suite.harness.explore(workflow, null, { keyPrefix: workflow });
    expect(report.clean).toMatchObject(expected);
    expect(report.variants.length).toBeGreaterThanOrEqual(4);
    expect(
      report.variants
        .filter((v) => !v.ok)
        .map((v) => ({ step: v.step, phase: v.phase, result: v.result })),
    ).toEqual([]);
  });

  it('should store state set before a sleep with the sleep pending log, before the pass ends', async () => {
    const { schema } = suite.harness;
    const wf = `"${schema}".chrono_forge_workflows`;
    // Fault at the database: every release of this run fails until the trigger is dropped, so the
    // only write that can have stored the state is the sleep's pending log.
    await sql(`CREATE FUNCTION "${schema}".no_release() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected release fault' USING ERRCODE = '57014'; END $$`);
    await sql(`CREATE TRIGGER no_release BEFORE UPDATE ON ${wf} FOR EACH ROW
      WHEN (OLD.key = 'nap-1' AND OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL)
      EXECUTE FUNCTION "${schema}".no_release()`);
    try {
      await suite.harness.client.start('persist.beforeSleep', { key: 'nap-1' });
      const stored = await eventually(async () => {
        const [row] = await sql<{ token?: string; pending: boolean }>(
          `SELECT w.context->>'token' AS token,
             EXISTS (SELECT 1 FROM "${schema}".chrono_forge_execution_logs l
                     WHERE l.workflow_id = w.id AND l.step_name = 'wait$nap' AND l.state = 'pending') AS pending
           FROM ${wf} w WHERE w.key = 'nap-1'`,
        );
        return row?.pending ? row : undefined;
      });
      expect(stored.token).toMatch(/^[0-9a-f-]{36}$/);
      const [locked] = await sql<{ state: string }>(`SELECT state FROM ${wf} WHERE key = 'nap-1'`);
      expect(locked.state).toBe('running');
      await sql(`DROP TRIGGER no_release ON ${wf}`);
      const run = await suite.harness.runToCompletion('nap-1', { timeout: '20s' });
      expect(run).toMatchObject({ state: 'completed', result: stored.token });
    } finally {
      await sql(`DROP TRIGGER IF EXISTS no_release ON ${wf}`);
    }
  });

  it('should write the state with the checkpoint in one statement, and only when it changed', async () => {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    const statements: string[] = [];
    const query = store.query.bind(store);
    const count = store.count.bind(store);
    store.query = (async (text: string, values?: unknown[], runner?: never) => {
      statements.push(text);
      return query(text, values, runner);
    }) as typeof store.query;
    // A plain step's checkpoint that needs no log id back goes as a counted statement.
    store.count = (async (text: string, values: unknown[], runner?: never, client?: never) => {
      statements.push(text);
      return count(text, values, runner, client);
    }) as typeof store.count;
    try {
      await suite.harness.client.start('persist.fromStep', { key: 'one-statement' });
      await suite.harness.runToCompletion('one-statement');
    } finally {
      store.query = query;
      store.count = count;
    }
    const steps = statements.filter((t) => t.includes("'completed', $4, $7"));
    expect(steps).toHaveLength(2);
    expect(steps[0]).toContain('SET context = $8::jsonb');
    expect(steps[1]).not.toContain('SET context');
  });
});

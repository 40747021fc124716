import { describe, expect, it } from 'vitest';
import { sql } from '../support/env.js';
import { txCommitSuite } from '../support/tx-commit.js';

/**
 * Transactional steps of running workflows (see transactional-commit.e2e.spec.ts for the
 * checkpoint and `COMMIT` sent together): nested `manager.transaction()` savepoints, durable state
 * set in the body stored with the checkpoint, and a run taken over while its body ran.
 */
describe('transactional steps of workflows: checkpoint and COMMIT together (e2e)', () => {
  const t = txCommitSuite('txcr');
  const { wf, logs, businessRows } = t;
  const client = () => t.suite.client;

  it('should keep savepoints of nested manager.transaction() calls working in a step', async () => {
    const handle = await client().start('txc.nested', { key: 'nested' });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual(['nested', 'after']);
    expect(await businessRows('nested')).toEqual(['outer', 'inner', 'after']);
  });

  it('should store state set in the body with the step checkpoint, before the pass ends', async () => {
    const handle = await client().start('txc.stateful', { key: 'stateful' });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual(['stateful', 'after']);
    expect(t.probe().storedContext.get('stateful')).toEqual({ paid: 'stateful' });
    expect(await businessRows('stateful')).toEqual(['stateful']);
  });

  it("should roll back the body's writes when its run was taken over while it ran", async () => {
    const key = 'taken-over-run';
    await client().start('txc.takenOver', { key });
    const deadline = Date.now() + 15_000;
    // The intruder's lock is on the run once the body ran.
    while (Date.now() < deadline) {
      const [run] = await sql<{ locked_by: string | null }>(
        `SELECT locked_by FROM ${wf} WHERE key = $1`,
        [key],
      );
      if (run?.locked_by === 'intruder/1') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The body's transaction ends right after it (refused checkpoint, rollback): give it time.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await businessRows(key)).toEqual([]);
    const [log] = await sql(
      `SELECT l.state FROM ${logs} l JOIN ${wf} w ON w.id = l.workflow_id
        WHERE w.key = $1 AND l.step_name = 'step$takenOver'`,
      [key],
    );
    expect(log).toBeUndefined();
    expect(t.probe().after.get(key)).toBeUndefined();
  });
});

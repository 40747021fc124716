import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Workflow, WorkflowContext } from '../../lib/index.js';
import { GroupWriteStatements } from '../../lib/persistence/group-writes.sql.js';
import { workflowTables } from '../../lib/persistence/tables.sql.js';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { persistProviders } from '../fixtures/persist.fixture.js';
import { sql } from '../support/env.js';
import {
  blocker as holdRows,
  lockRuns,
  pgClient,
  sleep,
  watching,
} from '../support/group-commit.js';
import { suiteApp, suiteHarness } from '../support/suite.js';

/**
 * Group commit under attack (lib/persistence/group-commit.ts): a multi-row statement must never
 * deadlock with a transaction that locks the same runs (a child's completion locks the child then
 * its parent; operator and cleanup updates lock several runs), and a multi-row statement that
 * committed but whose reply was lost must leave each caller what it wrote: its lock, its started
 * run enqueued.
 */

describe('group commit under attack (e2e)', () => {
  const suite = suiteHarness(persistProviders);
  const wf = () => `"${suite.harness.schema}".chrono_forge_workflows`;

  /** `n` runs, each locked by its own owner, as passes hold them (ids ascending). */
  async function lockedRuns(prefix: string, n: number) {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    return { store, runs: await lockRuns(store, prefix, n) };
  }

  /** A transaction holding the rows of `ids`: the statements on them wait until its release. */
  const blocker = (ids: string[]) => holdRows(wf(), ids);

  const checkpoint = (store: WorkflowStore, r: { id: string; owner: string }) =>
    store.completeStep(r.id, r.owner, 'step', 1, { json: 1 }, {}, new Date(), undefined, true);

  it('should not deadlock a checkpoint batch with a transaction updating its runs in id order', async () => {
    const { store, runs } = await lockedRuns('dl-cp', 4);
    const [low, high, ...blocked] = runs;
    const hold = await blocker(blocked.map((r) => r.id));
    const other = await pgClient();
    try {
      const { result, failures, multis } = await watching(
        store,
        "'completed', v.attempts",
        async (multi) => {
          const first = blocked.map((r) => checkpoint(store, r));
          await sleep(100); // both slots taken, waiting on the holder
          // Queued in this order: the batch carries [high, low].
          const batched = [checkpoint(store, high), checkpoint(store, low)];
          await other.query('BEGIN');
          await other.query(`UPDATE ${wf()} SET updated_at = now() WHERE id = $1`, [low.id]);
          await hold.release();
          await multi;
          await sleep(150); // the batch is at work (before the fix: holding high, waiting on low)
          // An operator-like transaction going on in id order: it must not be a deadlock victim.
          await other.query(`UPDATE ${wf()} SET updated_at = now() WHERE id = $1`, [high.id]);
          await other.query('COMMIT');
          return Promise.all([...first, ...batched]);
        },
      );
      expect(multis).toBeGreaterThan(0);
      expect(failures).toEqual([]);
      expect(result.every((id) => typeof id === 'string')).toBe(true);
    } finally {
      await other.end();
    }
  });

  it('should not deadlock a completion batch with a transaction locking its runs in reverse', async () => {
    const { store, runs } = await lockedRuns('dl-done', 4);
    const [low, high, ...blocked] = runs;
    const hold = await blocker(blocked.map((r) => r.id));
    const other = await pgClient();
    const complete = (r: { id: string; owner: string }) =>
      store.complete(r.id, r.owner, { json: r.id }, null, null, false);
    try {
      const { result, failures, multis } = await watching(
        store,
        'AS v(rid, rowner, rresult',
        async (multi) => {
          const first = blocked.map(complete);
          await sleep(100);
          const batched = [complete(low), complete(high)];
          // As a child's completion does (child row, then its parent's): higher id, then lower.
          await other.query('BEGIN');
          await other.query(`UPDATE ${wf()} SET updated_at = now() WHERE id = $1`, [high.id]);
          await hold.release();
          await multi;
          await sleep(150);
          await other.query(`UPDATE ${wf()} SET updated_at = now() WHERE id = $1`, [low.id]);
          await other.query('COMMIT');
          return Promise.all([...first, ...batched]);
        },
      );
      expect(multis).toBeGreaterThan(0);
      expect(failures).toEqual([]);
      expect(result).toEqual(Array(4).fill({ woken: null }));
      const states = await sql<{ state: string }>(
        `SELECT state FROM ${wf()} WHERE id = ANY($1::bigint[])`,
        [runs.map((r) => r.id)],
      );
      expect(states.map((s) => s.state)).toEqual(Array(4).fill('completed'));
    } finally {
      await other.end();
    }
  });

  it('should give a pass the lock its lost-reply multi-row acquire took, not report it busy', async () => {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push((await store.insertRun('persist.fromStep', `amb-acq-${i}`, null, 60_000)).id);
    const hold = await blocker(ids.slice(2));
    const { result, failures } = await watching(
      store,
      'AS u(rid, rowner, rnow',
      async () => {
        const first = ids.slice(2).map((id, i) => store.acquire(id, `w/first-${i}`, Date.now()));
        await sleep(100);
        const batched = ids.slice(0, 2).map((id, i) => store.acquire(id, `w/${i}`, Date.now()));
        await sleep(50);
        await hold.release();
        return Promise.all([...batched, ...first]);
      },
      true,
    );
    expect(failures).toEqual(['lost']);
    expect(result.map((r) => r.kind)).toEqual(Array(4).fill('acquired'));
    const owners = await sql<{ locked_by: string; wake_pending: boolean }>(
      `SELECT locked_by, wake_pending FROM ${wf()} WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [ids.slice(0, 2)],
    );
    expect(owners).toEqual([
      { locked_by: 'w/0', wake_pending: false },
      { locked_by: 'w/1', wake_pending: false },
    ]);
  });

  it('should not deadlock two multi-row starts carrying the same keys in opposite orders', async () => {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    const tables = workflowTables(store.schema);
    const text = new GroupWriteStatements(tables, store.staleLock()).insertRuns;
    const s = `"${suite.harness.schema}"`;
    // Each row waits a moment before it is inserted: both statements are mid-way at once.
    await sql(`CREATE FUNCTION ${s}.slow_start() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$`);
    await sql(`CREATE TRIGGER slow_start BEFORE INSERT ON ${wf()} FOR EACH ROW
      WHEN (NEW.key LIKE 'both-%') EXECUTE FUNCTION ${s}.slow_start()`);
    const values = (keys: string[]) => [
      keys,
      keys.map(() => 'persist.fromStep'),
      keys.map(() => 'null'),
      keys.map(() => 60_000),
      keys.map(() => null),
      keys.map(() => null),
      keys.map(() => '{}'),
    ];
    const [one, two] = [await pgClient(), await pgClient()];
    try {
      const outcomes = await Promise.allSettled([
        one.query(text, values(['both-b', 'both-a'])),
        two.query(text, values(['both-a', 'both-b'])),
      ]);
      expect(
        outcomes.map((o) =>
          o.status === 'rejected' ? (o.reason as { code?: string }).code : 'ok',
        ),
      ).toEqual(['ok', 'ok']);
      const rows = await sql(`SELECT key FROM ${wf()} WHERE key LIKE 'both-%'`);
      expect(rows).toHaveLength(2);
    } finally {
      await Promise.all([one.end(), two.end()]);
      await sql(`DROP TRIGGER IF EXISTS slow_start ON ${wf()}`);
    }
  });

  it("should not hold up other runs' writes behind two waiting on a long transaction", async () => {
    const { store, runs } = await lockedRuns('hol', 4);
    const [free1, free2, ...blocked] = runs;
    const hold = await blocker(blocked.map((r) => r.id));
    try {
      const stuck = blocked.map((r) => checkpoint(store, r));
      const ends = setTimeout(() => void hold.release(), 3_000);
      await sleep(50);
      const started = Date.now();
      const ids = await Promise.all([checkpoint(store, free1), checkpoint(store, free2)]);
      const waited = Date.now() - started;
      expect(ids.every((id) => typeof id === 'string')).toBe(true);
      // Before: they waited for the 3 s transaction to end (both slots held by its waiters).
      expect(waited).toBeLessThan(2_000);
      clearTimeout(ends);
      await hold.release();
      expect((await Promise.all(stuck)).every((id) => typeof id === 'string')).toBe(true);
    } finally {
      await hold.release().catch(() => undefined);
    }
  });

  it('should hand one row to one pass when the same owner asks twice in one batch', async () => {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await store.insertRun('persist.fromStep', `twice-acq-${i}`, null, 60_000)).id);
    const hold = await blocker(ids.slice(1));
    const { result, multis } = await watching(store, 'AS u(rid, rowner, rnow', async () => {
      const first = ids.slice(1).map((id, i) => store.acquire(id, `w/first-${i}`, Date.now()));
      await sleep(100);
      // One job delivered twice to one worker: two passes with one owner.
      const batched = [0, 1].map(() => store.acquire(ids[0], 'w/same', Date.now()));
      await sleep(50);
      await hold.release();
      return Promise.all([...batched, ...first]);
    });
    expect(multis).toBeGreaterThan(0);
    expect(result.slice(0, 2).map((r) => r.kind)).toEqual(['acquired', 'busy']);
  });
});

@Injectable()
class StartedWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('gc.started')
  async run(input: { n: number }): Promise<number> {
    return this.ctx.step('twice', () => input.n * 2);
  }
}

describe('a group-committed start whose reply was lost (e2e)', () => {
  // No recovery sweep in the test's time: only the start's own enqueue runs the runs.
  const suite = suiteApp('gcstart', [StartedWorkflow], { options: { recovery: { every: '1h' } } });

  it('should enqueue each run the lost-reply statement created', async () => {
    const store = suite.app.get(WorkflowStore, { strict: false });
    // Two uncommitted rows of the first keys: the first two starts wait on them (slots taken).
    const holder = await pgClient();
    await holder.query('BEGIN');
    await holder.query(
      `INSERT INTO "${suite.schema}".chrono_forge_workflows (key, job_name, input, max_duration_ms)
        VALUES ('block-0', 'gc.started', '{"n":0}', 60000), ('block-1', 'gc.started', '{"n":1}', 60000)`,
    );
    const { result, failures } = await watching(
      store,
      'AS v(key, job_name, input',
      async () => {
        const first = [0, 1].map((n) =>
          suite.client.start('gc.started', { key: `block-${n}`, input: { n } }),
        );
        await sleep(100);
        const batched = [2, 3, 4].map((n) =>
          suite.client.start('gc.started', { key: `run-${n}`, input: { n } }),
        );
        await sleep(50);
        await holder.query('ROLLBACK');
        await holder.end();
        return Promise.all([...first, ...batched]);
      },
      true,
    );
    expect(failures).toEqual(['lost']);
    const results = await Promise.all(result.map((h) => h.result({ timeout: '8s' })));
    expect(results).toEqual([0, 2, 4, 6, 8]);
  });
});

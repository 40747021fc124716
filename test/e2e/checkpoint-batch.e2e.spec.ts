import { describe, expect, it } from 'vitest';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { persistProviders } from '../fixtures/persist.fixture.js';
import { sql } from '../support/env.js';
import {
  ACQUIRES,
  CHECKPOINTS,
  COMPLETIONS,
  counting,
  lockRuns,
  pgClient,
  sleep,
  STARTS,
} from '../support/group-commit.js';
import { suiteHarness } from '../support/suite.js';

/**
 * Group commit (lib/persistence/group-commit.ts, group-writes.store.ts): concurrent passes'
 * first-attempt checkpoints share statements, and each keeps its own fence and its own failure;
 * so do concurrent starts, acquires and completions.
 */
describe('checkpoints of concurrent passes written together (e2e)', () => {
  const suite = suiteHarness(persistProviders);

  /** `n` runs, each locked by its own owner, as passes hold them. */
  async function lockedRuns(prefix: string, n: number) {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    return { store, runs: await lockRuns(store, prefix, n) };
  }

  /** Counts the engine's checkpoint statements while `fn` runs. */
  const countingCheckpoints = <T>(store: WorkflowStore, fn: () => Promise<T>) =>
    counting(store, CHECKPOINTS, fn);

  /** Text an array literal must escape: quotes, backslashes, braces, commas, NULL, non-ASCII. */
  const tricky = "a\"b\\c,{d} NULL \u2603 'e'";

  const checkpoint = (store: WorkflowStore, id: string, owner: string, step = 'step') => {
    const [result, metadata] = [{ json: { id, tricky } }, { k: tricky }];
    return store.completeStep(id, owner, step, 1, result, metadata, new Date(), undefined, true);
  };

  const logs = async (ids: string[]) =>
    sql<{ workflow_id: string; step_name: string; state: string; result: unknown }>(
      `SELECT workflow_id::text, step_name, state, result FROM "${suite.harness.schema}".chrono_forge_execution_logs
        WHERE workflow_id = ANY($1::bigint[]) ORDER BY workflow_id`,
      [ids],
    );

  it('should write 40 concurrent checkpoints in fewer statements, each with its own log', async () => {
    const { store, runs } = await lockedRuns('many', 40);
    const { result, seen } = await countingCheckpoints(store, () =>
      Promise.all(runs.map((r) => checkpoint(store, r.id, r.owner))),
    );
    expect(result.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(result).size).toBe(40);
    expect(seen.multi).toBeGreaterThan(0);
    expect(seen.single + seen.multi).toBeLessThan(40);
    const rows = await logs(runs.map((r) => r.id));
    expect(rows).toHaveLength(40);
    expect(rows.every((r) => r.state === 'completed')).toBe(true);
    expect(rows.map((r) => (r.result as { json: { id: string } }).json.id).sort()).toEqual(
      runs.map((r) => r.id).sort(),
    );
    expect(
      rows.every((r) => (r.result as { json: { tricky: string } }).json.tricky === tricky),
    ).toBe(true);
  });

  it('should refuse only the checkpoint whose lock moved, and one already recorded', async () => {
    const { store, runs } = await lockedRuns('fenced', 12);
    const [moved, recorded] = runs;
    await sql(
      `UPDATE "${suite.harness.schema}".chrono_forge_workflows SET locked_by = 'someone-else' WHERE id = $1`,
      [moved.id],
    );
    expect(await checkpoint(store, recorded.id, recorded.owner)).toEqual(expect.any(String));
    const { result, seen } = await countingCheckpoints(store, () =>
      Promise.all(runs.map((r) => checkpoint(store, r.id, r.owner))),
    );
    expect(seen.multi).toBeGreaterThan(0);
    expect(result[0]).toBeNull(); // fenced out
    expect(result[1]).toBeNull(); // a first attempt already recorded
    expect(result.slice(2).every((id) => typeof id === 'string')).toBe(true);
    const rows = await logs(runs.map((r) => r.id));
    expect(rows.filter((r) => r.workflow_id === moved.id)).toEqual([]);
    expect(rows).toHaveLength(11);
  });

  it('should give a run checkpointed and completed twice in one statement to its owner only', async () => {
    const { store, runs } = await lockedRuns('twice', 10);
    // A stale pass of the last run (its lock moved to `current`) writes beside the new owner.
    const last = runs[9];
    await sql(
      `UPDATE "${suite.harness.schema}".chrono_forge_workflows SET locked_by = 'current/1' WHERE id = $1`,
      [last.id],
    );
    const writers = [...runs.slice(0, 9), last, { id: last.id, owner: 'current/1' }];
    const ids = await Promise.all(writers.map((r) => checkpoint(store, r.id, r.owner)));
    expect(ids[9]).toBeNull(); // the stale pass: refused, never handed the owner's log id
    expect(ids[10]).toEqual(expect.any(String));
    expect(ids.slice(0, 9).every((id) => typeof id === 'string')).toBe(true);
    const ended = await Promise.all(
      writers.map((r, i) => store.complete(r.id, r.owner, { json: i }, null, null, false)),
    );
    expect(ended[9]).toBe(false);
    expect(ended[10]).toEqual({ woken: null });
    const [row] = await sql<{ result: unknown }>(
      `SELECT result FROM "${suite.harness.schema}".chrono_forge_workflows WHERE id = $1`,
      [last.id],
    );
    expect(row.result).toEqual({ json: 10 });
  });

  it("should keep one run's failed row from failing the others' checkpoints", async () => {
    const { store, runs } = await lockedRuns('fault', 12);
    const s = `"${suite.harness.schema}"`;
    const bad = runs[5];
    await sql(`CREATE FUNCTION ${s}.no_log() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected log fault' USING ERRCODE = '57014'; END $$`);
    await sql(`CREATE TRIGGER no_log BEFORE INSERT ON ${s}.chrono_forge_execution_logs FOR EACH ROW
      WHEN (NEW.workflow_id = ${Number(bad.id)}) EXECUTE FUNCTION ${s}.no_log()`);
    try {
      const { result, seen } = await countingCheckpoints(store, () =>
        Promise.allSettled(runs.map((r) => checkpoint(store, r.id, r.owner))),
      );
      expect(seen.multi).toBeGreaterThan(0);
      expect(result[5]).toMatchObject({ status: 'rejected' });
      expect((result[5] as PromiseRejectedResult).reason).toMatchObject({ code: '57014' });
      const others = result.filter((_, i) => i !== 5);
      expect(others.every((r) => r.status === 'fulfilled' && typeof r.value === 'string')).toBe(
        true,
      );
      expect(await logs(runs.map((r) => r.id))).toHaveLength(11);
    } finally {
      await sql(`DROP TRIGGER IF EXISTS no_log ON ${s}.chrono_forge_execution_logs`);
    }
  });

  it('should start concurrent runs in fewer statements, a key started twice at once only once', async () => {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    const keys = [...Array.from({ length: 30 }, (_, i) => `start-${i}`), ...Array(6).fill('twice')];
    const { result: handles, seen } = await counting(store, STARTS, () =>
      Promise.all(
        keys.map((key) =>
          store.insertRun('persist.fromStep', key, { key }, 60_000, undefined, {
            attributes: { k: key },
          }),
        ),
      ),
    );
    expect(seen.multi).toBeGreaterThan(0);
    expect(seen.single + seen.multi).toBeLessThan(36);
    expect(handles.slice(0, 30).every((h) => h.created)).toBe(true);
    const twice = handles.slice(30);
    expect(twice.filter((h) => h.created)).toHaveLength(1);
    expect(new Set(twice.map((h) => h.id)).size).toBe(1);
    const rows = await sql<{
      key: string;
      input: unknown;
      attributes: unknown;
      deadline_at: Date | null;
    }>(
      `SELECT key, input, attributes, deadline_at FROM "${suite.harness.schema}".chrono_forge_workflows
        WHERE key LIKE 'start-%' OR key = 'twice' ORDER BY key`,
    );
    expect(rows).toHaveLength(31);
    expect(rows.find((r) => r.key === 'start-7')).toMatchObject({
      input: { key: 'start-7' },
      attributes: { k: 'start-7' },
      deadline_at: null,
    });
  });

  it('should take concurrent locks in fewer statements, each run once, waiting on a held row', async () => {
    const store = suite.harness.moduleRef.get(WorkflowStore);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push((await store.insertRun('persist.fromStep', `acq-${i}`, { i }, 60_000)).id);
    // A completed step on the first run: the acquire returns its logs.
    const first = await store.acquire(ids[0], 'seed/0', Date.now());
    expect(first.kind).toBe('acquired');
    expect(await checkpoint(store, ids[0], 'seed/0')).toEqual(expect.any(String));
    await sql(
      `UPDATE "${suite.harness.schema}".chrono_forge_workflows SET locked_by = NULL, locked_at = NULL WHERE id = $1`,
      [ids[0]],
    );
    // Another transaction holds the last run's row for a moment: its acquire waits, alone.
    const holder = await pgClient();
    await holder.query('BEGIN');
    await holder.query(
      `SELECT 1 FROM "${suite.harness.schema}".chrono_forge_workflows WHERE id = $1 FOR UPDATE`,
      [ids[19]],
    );
    const asked = [
      ...ids.map((id, i) => ({ id, owner: `w/${i}` })),
      { id: ids[3], owner: 'w/again' },
    ];
    let committed: Promise<unknown> | undefined;
    let counted;
    try {
      counted = await counting(store, ACQUIRES, () => {
        const pending = Promise.all(asked.map((a) => store.acquire(a.id, a.owner, Date.now())));
        committed = sleep(300).then(() => holder.query('COMMIT'));
        return pending;
      });
    } finally {
      // The held row's acquire waited for this COMMIT: it is done before the client ends.
      await committed?.catch(() => undefined);
      await holder.end();
    }
    const { result: results, seen } = counted;
    expect(seen.multi).toBeGreaterThan(0);
    expect(results.slice(0, 20).map((r) => r.kind)).toEqual(Array(20).fill('acquired'));
    // The same run asked for twice at once: one pass takes it, the other finds it busy.
    expect(results[20].kind).toBe('busy');
    const acquired = results[0] as Extract<(typeof results)[0], { kind: 'acquired' }>;
    expect(acquired.logs.map((l) => l.step_name)).toEqual(['step']);
    expect(acquired.run).toMatchObject({
      id: ids[0],
      key: 'acq-0',
      input: { i: 0 },
      state: 'running',
    });
    expect(acquired.run).not.toHaveProperty('acquired_by');
    const owners = await sql<{ id: string; locked_by: string }>(
      `SELECT id::text, locked_by FROM "${suite.harness.schema}".chrono_forge_workflows
        WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [ids],
    );
    expect(owners.map((o) => o.locked_by)).toEqual(ids.map((_, i) => `w/${i}`));
  });

  it('should complete concurrent parentless runs in fewer statements, refusing a lost lock', async () => {
    const { store, runs } = await lockedRuns('done', 16);
    const lost = runs[2];
    await sql(
      `UPDATE "${suite.harness.schema}".chrono_forge_workflows SET locked_by = 'someone-else' WHERE id = $1`,
      [lost.id],
    );
    const { result: ended, seen } = await counting(store, COMPLETIONS, () =>
      Promise.all(
        runs.map((r, i) =>
          store.complete(
            r.id,
            r.owner,
            { json: { n: i } },
            { seen: i },
            { at: 0, append: [`step@${i}`] },
            false,
          ),
        ),
      ),
    );
    expect(seen.multi).toBeGreaterThan(0);
    expect(seen.single + seen.multi).toBeLessThan(16);
    expect(ended[2]).toBe(false);
    expect(ended.filter((e, i) => i !== 2)).toEqual(Array(15).fill({ woken: null }));
    const rows = await sql<{
      id: string;
      state: string;
      result: unknown;
      context: unknown;
      history: unknown;
      locked_by: string | null;
      logs: number;
    }>(
      `SELECT w.id::text, w.state, w.result, w.context, w.history, w.locked_by,
         (SELECT count(*)::int FROM "${suite.harness.schema}".chrono_forge_execution_logs l
           WHERE l.workflow_id = w.id AND l.step_name = '$workflow_completion$') AS logs
         FROM "${suite.harness.schema}".chrono_forge_workflows w WHERE w.id = ANY($1::bigint[]) ORDER BY w.id`,
      [runs.map((r) => r.id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(lost.id)).toMatchObject({
      state: 'running',
      locked_by: 'someone-else',
      logs: 0,
    });
    expect(byId.get(runs[5].id)).toEqual({
      id: runs[5].id,
      state: 'completed',
      result: { json: { n: 5 } },
      context: { seen: 5 },
      history: ['step@5'],
      locked_by: null,
      logs: 1,
    });
  });

  it('should write a lone checkpoint at once, alone', async () => {
    const { store, runs } = await lockedRuns('alone', 3);
    const { seen } = await countingCheckpoints(store, async () => {
      for (const r of runs)
        expect(await checkpoint(store, r.id, r.owner)).toEqual(expect.any(String));
    });
    expect(seen).toEqual({ single: 3, multi: 0 });
  });
});

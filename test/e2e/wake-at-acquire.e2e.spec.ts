import { describe, expect, it } from 'vitest';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';
import { deployed, WakeJournal, wakeProviders } from '../fixtures/wake-at-acquire.fixture.js';

/**
 * A due plain sleep is completed by the acquire of its wake-up pass (`acquireStatements` in
 * lib/persistence/acquire.sql.ts, CTE `s`), which then issues no checkpoint for it. Each flow
 * (test/fixtures/wake-at-acquire.fixture.ts) runs twice: as is (`wake.*`), and through a pass
 * interceptor that only calls `next()` (`old.*`), which keeps a workflow on the replay's own
 * completion: both must store the same rows, history and result.
 */

interface LogDump {
  step_name: string;
  state: string;
  attempts: number;
  result: unknown;
  metadata: Record<string, unknown>;
  error_class: string | null;
  error_message: string | null;
  started: boolean;
  completed: boolean;
  /** last_executed_at = completed_at = updated_at (one statement wrote the completion). */
  one_write: boolean | null;
  started_first: boolean | null;
}

describe('due sleeps completed by the acquire (e2e)', () => {
  const suite = suiteApp('wake', wakeProviders);
  const logTable = () => `"${suite.schema}".chrono_forge_execution_logs`;
  const runTable = () => `"${suite.schema}".chrono_forge_workflows`;

  /** The step names each run's checkpoints (completeStepWith) wrote, by run id. */
  const completions = new Map<string, string[]>();
  let spied = false;
  const spy = () => {
    if (spied) return;
    spied = true;
    const store = suite.app.get(WorkflowStore, { strict: false });
    const completeStepWith = store.completeStepWith.bind(store);
    store.completeStepWith = (checkpoint, ...rest) => {
      const { workflowId, stepName } = checkpoint;
      completions.set(workflowId, [...(completions.get(workflowId) ?? []), stepName]);
      return completeStepWith(checkpoint, ...rest);
    };
  };

  const rows = (key: string): Promise<LogDump[]> =>
    sql<LogDump>(
      `SELECT l.step_name, l.state, l.attempts, l.result, l.metadata, l.error_class, l.error_message,
         l.started_at IS NOT NULL AS started, l.completed_at IS NOT NULL AS completed,
         CASE WHEN l.completed_at IS NULL THEN NULL
           ELSE l.last_executed_at = l.completed_at AND l.updated_at = l.completed_at END AS one_write,
         CASE WHEN l.completed_at IS NULL THEN NULL ELSE l.started_at < l.completed_at END AS started_first
       FROM ${logTable()} l JOIN ${runTable()} w ON w.id = l.workflow_id
       WHERE w.key = $1 ORDER BY l.step_name`,
      [key],
    );
  /** Rows with the wake times (different per run) replaced by whether they parse back. */
  const comparable = async (key: string) =>
    (await rows(key)).map((r) => ({
      ...r,
      metadata: Object.fromEntries(
        Object.entries(r.metadata).map(([k, v]) => [
          k,
          k === 'wake_at' ? new Date(String(v)).toISOString() === v : v,
        ]),
      ),
    }));
  const detail = async (key: string) => {
    const run = await suite.client.get(key);
    return {
      state: run.state,
      result: run.result,
      steps: run.steps
        .map((s) => ({
          name: s.name,
          state: s.state,
          attempts: s.attempts,
          started: s.startedAt !== null,
          completed: s.completedAt !== null,
          errorClass: s.errorClass,
          metadata: Object.keys(s.metadata).sort(),
        }))
        // (Parallel calls' logs are inserted in either order.)
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  };
  const history = async (key: string) =>
    (await sql<{ history: unknown }>(`SELECT history FROM ${runTable()} WHERE key = $1`, [key]))[0]
      ?.history;
  const runId = async (key: string) => (await suite.client.get(key)).id;

  it('should complete a due sleep at acquire and store what the replay stores', async () => {
    spy();
    const [fast, old] = await Promise.all([
      suite.client.start('wake.plain', { key: 'plain', input: { ms: 400 } }),
      suite.client.start('old.plain', { key: 'plain-old', input: { ms: 400 } }),
    ]);
    await expect(fast.result({ timeout: '15s' })).resolves.toEqual(['before', 'after']);
    await expect(old.result({ timeout: '15s' })).resolves.toEqual(['before', 'after']);
    // The replay's completion on the interceptor's run, none on the other: the acquire did it.
    expect(completions.get(await runId('plain-old'))).toContain('wait$nap');
    expect(completions.get(await runId('plain'))).not.toContain('wait$nap');
    expect(completions.get(await runId('plain'))).toContain('step$after');
    const [mine, theirs] = [await comparable('plain'), await comparable('plain-old')];
    expect(mine).toEqual(theirs);
    expect(mine.find((r) => r.step_name === 'wait$nap')).toMatchObject({
      state: 'completed',
      attempts: 2,
      result: { json: true },
      metadata: { wake_at: true },
      one_write: true,
      started_first: true,
    });
    expect(await history('plain')).toEqual(await history('plain-old'));
    expect(await detail('plain')).toEqual(await detail('plain-old'));
    // Each body once: the acquire's completion replays the method, it does not re-run steps.
    expect(suite.app.get(WakeJournal).ran.get('plain')).toEqual(['before', 'after']);
  });

  it('should leave a sleep whose wake time is not due pending, and complete it at its own wake', async () => {
    spy();
    const [fast, old] = await Promise.all([
      suite.client.start('wake.pair', { key: 'pair' }),
      suite.client.start('old.pair', { key: 'pair-old' }),
    ]);
    // Between the two wakes: the short sleep completed, the long one as its first pass left it.
    const between = await eventually(
      async () => {
        const r = await rows('pair');
        const short = r.find((x) => x.step_name === 'wait$short');
        return short?.state === 'completed' ? r : null;
      },
      10_000,
      'the short sleep completed',
    );
    expect(between.find((x) => x.step_name === 'wait$long')).toMatchObject({
      state: 'pending',
      attempts: 1,
      completed: false,
    });
    await expect(fast.result({ timeout: '15s' })).resolves.toEqual(['after']);
    await expect(old.result({ timeout: '15s' })).resolves.toEqual(['after']);
    expect(await comparable('pair')).toEqual(await comparable('pair-old'));
    expect(await history('pair')).toEqual(await history('pair-old'));
    expect(await detail('pair')).toEqual(await detail('pair-old'));
    const waits = (key: string) =>
      runId(key).then((id) => (completions.get(id) ?? []).filter((n) => n.startsWith('wait$')));
    expect(await waits('pair')).toEqual([]);
    expect((await waits('pair-old')).sort()).toEqual(['wait$long', 'wait$short']);
  });

  it('should put a due sleep back as it was when the replay does not reach it (code changed)', async () => {
    spy();
    await suite.client.start('wake.changed', { key: 'changed' });
    const napRow = async () =>
      (
        await sql<{ row: string }>(
          `SELECT row_to_json(l)::text AS row FROM ${logTable()} l JOIN ${runTable()} w
             ON w.id = l.workflow_id WHERE w.key = 'changed' AND l.step_name = 'wait$nap'`,
        )
      )[0]?.row;
    // Asleep: the first pass left the sleep pending; the deploy happens before its wake.
    const asleep = await eventually(
      async () => ((await suite.client.get('changed')).state === 'idle' ? napRow() : undefined),
      10_000,
      'the run asleep',
    );
    deployed.changed = true;
    const run = await eventually(
      async () => {
        const r = await suite.client.get('changed');
        return r.state === 'stalled' ? r : null;
      },
      10_000,
      'the run stalled',
    );
    expect(run.errors.map((e) => e.errorClass)).toContain('NonDeterminismError');
    // The acquire completed it (no checkpoint for it), the pass put it back: every column.
    expect(completions.get(run.id) ?? []).not.toContain('wait$nap');
    expect(await napRow()).toBe(asleep);
    expect(JSON.parse(asleep ?? '{}')).toMatchObject({ state: 'pending', attempts: 1 });
    expect(suite.app.get(WakeJournal).ran.get('changed')).toEqual(['a']);
  });

  it('should complete only plain due sleeps of a run this worker replays as is', async () => {
    await suite.client.start('wake.parked', { key: 'crafted' });
    const id = await eventually(
      async () => {
        const run = await suite.client.get('crafted');
        return run.state === 'idle' && run.steps.length > 0 ? run.id : null;
      },
      10_000,
      'the run parked',
    );
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const crafted: Array<[string, string, Record<string, unknown>]> = [
      ['wait$due', 'pending', { wake_at: past }],
      ['wait$future', 'pending', { wake_at: future }],
      ['wait$extra', 'pending', { wake_at: past, note: 1 }],
      ['wait$odd', 'pending', { wake_at: '2020-01-01 00:00:00+00' }],
      ['wait$number', 'pending', { wake_at: 0 }],
      ['wait$done', 'completed', { wake_at: past }],
      ['signal$go', 'pending', { timeout_at: past }],
      ['wait_until$w', 'pending', { timeout_at: past }],
      ['step$s', 'pending', { wake_at: past }],
      ['durably_repeat$r', 'pending', { wake_at: past }],
    ];
    for (const [name, state, metadata] of crafted)
      await sql(
        `INSERT INTO ${logTable()} (workflow_id, step_name, state, attempts, started_at, last_executed_at,
           completed_at, metadata)
         VALUES ($1, $2, $3, 1, now(), now(), CASE WHEN $3 = 'completed' THEN now() END, $4)`,
        [id, name, state, JSON.stringify(metadata)],
      );
    const store = suite.app.get(WorkflowStore, { strict: false });
    const eligible = JSON.stringify({ 'wake.parked': null });
    const states = async () =>
      Object.fromEntries(
        (
          await sql<{ step_name: string; state: string; attempts: number }>(
            `SELECT step_name, state, attempts FROM ${logTable()} WHERE workflow_id = $1`,
            [id],
          )
        ).map((r) => [r.step_name, `${r.state}/${r.attempts}`]),
      );
    let n = 0;
    /** Takes the lock as a pass would (with `wakes`), releases it, returns what it completed. */
    const pass = async (wakes: string | null) => {
      const owner = `wake-spec/${++n}`;
      const got = await store.acquire(id, owner, Date.now(), wakes);
      if (got.kind !== 'acquired') throw new Error(`not acquired: ${got.kind}`);
      await store.release(id, owner, {
        state: 'idle',
        nextRunAt: null,
        attempt: 0,
        retryCounts: {},
        context: null,
      });
      return got;
    };
    const before = await states();
    // Not for a workflow this worker would not replay as is, nor for another version of it.
    expect((await pass(null)).woken).toEqual([]);
    expect((await pass(JSON.stringify({ 'old.plain': null }))).woken).toEqual([]);
    await sql(`UPDATE ${runTable()} SET version = 'v9' WHERE id = $1`, [id]);
    expect((await pass(eligible)).woken).toEqual([]);
    expect((await pass(JSON.stringify({ 'wake.parked': 'v8' }))).woken).toEqual([]);
    // Nor when the run's deadline is near (the pass ends it rather than replay it).
    await sql(
      `UPDATE ${runTable()} SET version = NULL, deadline_at = now() + interval '10 seconds' WHERE id = $1`,
      [id],
    );
    expect((await pass(eligible)).woken).toEqual([]);
    expect(await states()).toEqual(before);
    // (Its release stored the deadline as the wake time: the run is due again at once.)
    await sql(`UPDATE ${runTable()} SET deadline_at = NULL, next_run_at = NULL WHERE id = $1`, [
      id,
    ]);
    const got = await pass(eligible);
    expect(got.kind === 'acquired' && got.woken.map((w) => w.attempts)).toEqual([2]);
    // The logs the pass reads show it completed as the statement stored it.
    const read = got.kind === 'acquired' ? got.logs.find((l) => l.step_name === 'wait$due') : null;
    expect(read).toMatchObject({ state: 'completed', attempts: 2, result: { json: true } });
    expect(read?.metadata).toEqual({ wake_at: past });
    expect(await states()).toEqual({ ...before, wait$due: 'completed/2' });
  });
});

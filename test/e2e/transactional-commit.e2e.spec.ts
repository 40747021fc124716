import type { PoolClient } from 'pg';
import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { engineStatementErrors } from '../../lib/database/engine-statement.js';
import { sqlState } from '../../lib/database/transient-error.js';
import type { StateCarrier } from '../../lib/persistence/rows.js';
import type { StepCommit } from '../../lib/persistence/workflow.store.js';
import { sql } from '../support/env.js';
import { txCommitSuite } from '../support/tx-commit.js';

/**
 * A transactional step begins its transaction in one round trip (`START TRANSACTION ISOLATION
 * LEVEL …`) and sends its checkpoint and `COMMIT` in one query string (the checkpoint a statement
 * prepared on the connection). A refused checkpoint fails inside its statement, so the `COMMIT`
 * after it never runs and the body's writes roll back; a failed `COMMIT` (a deferred constraint)
 * is told apart from a failed checkpoint. These cases drive `completeStepAndCommit` on a run
 * locked by a made-up owner; transactional-commit-runs.e2e.spec.ts runs workflows.
 */
describe('transactional steps: one round trip to begin, checkpoint and COMMIT together (e2e)', () => {
  const t = txCommitSuite('txc');
  const { schema, wf, logs, dataSource, lockedRun, countQueries, begin, insert, commit } = t;
  const { businessRows, stepLogs } = t;

  it('should begin in one round trip and commit the body and the checkpoint in one', async () => {
    const key = 'one-round-trip';
    const runId = await lockedRun(key);
    const runner = dataSource().createQueryRunner();
    const conn = (await runner.connect()) as PoolClient;
    const counted = countQueries(conn);
    try {
      const tx = await begin(runner);
      expect(counted.texts).toEqual(['START TRANSACTION ISOLATION LEVEL READ COMMITTED']);
      expect(tx.direct).toBe(true);
      expect(runner.isTransactionActive).toBe(true);
      await insert(tx, key);
      counted.texts.length = 0;
      const done = await commit(tx, runId, 'step$first');
      expect(done).toEqual({ id: expect.any(String) });
      // One query string: the checkpoint (prepared in the same string on first use) and COMMIT.
      expect(counted.texts).toHaveLength(1);
      expect(counted.texts[0]).toMatch(/EXECUTE cf_commit_\w+\(.*\);\nCOMMIT$/s);
      expect(runner.isTransactionActive).toBe(false);
      // Next time on this connection: the EXECUTE alone.
      counted.texts.length = 0;
      const again = await begin(runner);
      await insert(again, key, 'second');
      expect(await commit(again, runId, 'step$second')).toEqual({ id: expect.any(String) });
      expect(counted.texts.at(-1)).toMatch(/^EXECUTE cf_commit_\w+\(.*\);\nCOMMIT$/s);
    } finally {
      counted.stop();
      await runner.release();
    }
    expect(await businessRows(key)).toEqual(['business', 'second']);
    expect(await stepLogs(runId)).toEqual([
      { step_name: 'step$first', state: 'completed' },
      { step_name: 'step$second', state: 'completed' },
    ]);
  });

  it.each([
    ['its log id read back', false],
    ['no row back (a plain step, which needs no log id)', true],
  ])(
    'should refuse the checkpoint and commit nothing when the lock was taken over during the body, with %s',
    async (_label, anyId) => {
      const key = `taken-over-${anyId}`;
      const runId = await lockedRun(key);
      const tx = await begin();
      try {
        await insert(tx, key);
        await sql(`UPDATE ${wf} SET locked_by = 'another/1', locked_at = now() WHERE id = $1`, [
          runId,
        ]);
        expect(await commit(tx, runId, 'step$refused', { anyId })).toEqual({ id: null });
        // The COMMIT did not run: the transaction is open (aborted) for its rollback.
        expect(tx.active).toBe(true);
        await tx.rollback();
        expect(tx.active).toBe(false);
      } finally {
        await tx.release();
      }
      expect(await businessRows(key)).toEqual([]);
      expect(await stepLogs(runId)).toEqual([]);
    },
  );

  it.each([
    ['a first attempt (INSERT: unique violation)', true, false],
    ['a first attempt with no row back (INSERT: unique violation)', true, true],
    ['a retried attempt (upsert: no row)', false, false],
  ])(
    'should refuse the checkpoint of a step another pass recorded, for %s',
    async (_label, fresh, anyId) => {
      const key = `recorded-${fresh}-${anyId}`;
      const runId = await lockedRun(key);
      await sql(
        `INSERT INTO ${logs} (workflow_id, step_name, state, attempts) VALUES ($1, 'step$twice', 'completed', 1)`,
        [runId],
      );
      const tx = await begin();
      try {
        await insert(tx, key);
        expect(await commit(tx, runId, 'step$twice', { fresh, anyId })).toEqual({ id: null });
        await tx.rollback();
      } finally {
        await tx.release();
      }
      expect(await businessRows(key)).toEqual([]);
    },
  );

  it('should tell a deferred constraint failing at COMMIT from a failed checkpoint', async () => {
    const key = 'deferred';
    const runId = await lockedRun(key);
    const tx = await begin();
    let done: StepCommit;
    try {
      await tx.runner.manager.query(
        `INSERT INTO "${schema}".lines (key, order_id) VALUES ($1, -1)`,
        [key],
      );
      done = await commit(tx, runId, 'step$deferred');
      // The COMMIT failed, so PostgreSQL rolled the transaction back: nothing left to roll back.
      expect(tx.active).toBe(false);
    } finally {
      await tx.release();
    }
    expect(done).toMatchObject({ failed: 'commit' });
    const error = (done as { error: unknown }).error;
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(sqlState(error)).toBe('23503');
    expect(engineStatementErrors.has(error as object)).toBe(true);
    // The checkpoint rolled back with the body's row.
    expect(await stepLogs(runId)).toEqual([]);
    expect(await sql(`SELECT key FROM "${schema}".lines WHERE key = $1`, [key])).toEqual([]);
  });

  it('should fail the checkpoint with 25P02 when the body swallowed a failed statement', async () => {
    const key = 'swallowed';
    const runId = await lockedRun(key);
    const tx = await begin();
    let done: StepCommit;
    try {
      await tx.runner.manager.query(`INSERT INTO "${schema}".uniq (key) VALUES ($1)`, [key]);
      await tx.runner.manager
        .query(`INSERT INTO "${schema}".uniq (key) VALUES ($1)`, [key])
        .catch(() => undefined);
      done = await commit(tx, runId, 'step$swallowed');
      expect(tx.active).toBe(true);
      await tx.rollback();
    } finally {
      await tx.release();
    }
    expect(done).toMatchObject({ failed: 'checkpoint' });
    expect(sqlState((done as { error: unknown }).error)).toBe('25P02');
    expect(await stepLogs(runId)).toEqual([]);
  });

  it('should report a fault of the combined statement as a failed checkpoint, and roll back', async () => {
    const key = 'faulty';
    const runId = await lockedRun(key);
    const tx = await begin();
    let done: StepCommit;
    try {
      await insert(tx, key);
      done = await commit(tx, runId, 'step$faulty');
      expect(tx.active).toBe(true);
      await tx.rollback();
    } finally {
      await tx.release();
    }
    expect(done).toMatchObject({ failed: 'checkpoint' });
    const error = (done as { error: unknown }).error;
    expect(sqlState(error)).toBe('40P01');
    expect(engineStatementErrors.has(error as object)).toBe(true);
    expect(await businessRows(key)).toEqual([]);
    // The next attempt (the fault fires once) commits both.
    const retry = await begin();
    try {
      await insert(retry, key);
      expect(await commit(retry, runId, 'step$faulty')).toEqual({ id: expect.any(String) });
    } finally {
      await retry.release();
    }
    expect(await businessRows(key)).toEqual(['business']);
  });

  it('should prepare the checkpoint again when the body deallocated it (one failed attempt)', async () => {
    const key = 'deallocated';
    const runId = await lockedRun(key);
    const runner = dataSource().createQueryRunner();
    try {
      const first = await begin(runner);
      expect(await commit(first, runId, 'step$a')).toEqual({ id: expect.any(String) });
      const second = await begin(runner);
      const names = await runner.query(
        `SELECT name FROM pg_prepared_statements WHERE name LIKE 'cf\\_commit\\_%'`,
      );
      for (const { name } of names as Array<{ name: string }>)
        await runner.query(`DEALLOCATE ${name}`);
      const gone = await commit(second, runId, 'step$b');
      expect(gone).toMatchObject({ failed: 'checkpoint' });
      expect(sqlState((gone as { error: unknown }).error)).toBe('26000');
      await second.rollback();
      const third = await begin(runner);
      expect(await commit(third, runId, 'step$b')).toEqual({ id: expect.any(String) });
    } finally {
      await runner.release();
    }
    expect((await stepLogs(runId)).map((l) => l.step_name)).toEqual(['step$a', 'step$b']);
  });

  it('should write the durable state with the checkpoint, and not when the checkpoint is refused', async () => {
    const key = 'carrier';
    const runId = await lockedRun(key);
    const ended: boolean[] = [];
    const carrier = (state: Record<string, unknown>): StateCarrier => ({
      stateSettled: () => false,
      claimState: () =>
        Promise.resolve({ state, version: 1, done: (saved: boolean) => void ended.push(saved) }),
    });
    const tx = await begin();
    try {
      await insert(tx, key);
      const done = await commit(tx, runId, 'step$state', { carrier: carrier({ paid: 42 }) });
      expect(done).toEqual({ id: expect.any(String) });
    } finally {
      await tx.release();
    }
    await sql(`UPDATE ${wf} SET locked_by = 'another/1' WHERE id = $1`, [runId]);
    const refused = await begin();
    try {
      await insert(refused, key, 'refused');
      const done = await commit(refused, runId, 'step$state2', { carrier: carrier({ paid: 0 }) });
      expect(done).toEqual({ id: null });
      await refused.rollback();
    } finally {
      await refused.release();
    }
    expect(ended).toEqual([true, false]);
    const [run] = await sql<{ context: unknown }>(`SELECT context FROM ${wf} WHERE id = $1`, [
      runId,
    ]);
    expect(run.context).toEqual({ paid: 42 });
    expect(await businessRows(key)).toEqual(['business']);
  });

  it('should go through TypeORM when the DataSource has subscribers (their transaction events)', async () => {
    const key = 'subscribed';
    const runId = await lockedRun(key);
    const events: string[] = [];
    const subscriber = {
      afterTransactionStart: () => void events.push('start'),
      afterTransactionCommit: () => void events.push('commit'),
    };
    const ds = dataSource();
    ds.subscribers.push(subscriber);
    try {
      const tx = await begin();
      try {
        expect(tx.direct).toBe(false);
        await insert(tx, key);
        expect(await commit(tx, runId, 'step$typeorm')).toEqual({ id: expect.any(String) });
      } finally {
        await tx.release();
      }
    } finally {
      ds.subscribers.splice(ds.subscribers.indexOf(subscriber), 1);
    }
    expect(events).toEqual(['start', 'commit']);
    expect(await businessRows(key)).toEqual(['business']);
  });
});

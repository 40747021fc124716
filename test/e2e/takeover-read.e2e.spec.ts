import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { DATABASE_URL, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * A takeover's acquire reads the step logs with its statement's snapshot, taken before the UPDATE
 * waited for the row that the previous owner's checkpoint in flight held (its fence). That
 * checkpoint then commits: read as of before, the new pass would run the step's body again after
 * its log committed (the generative suite's lease programs found it). A takeover reads the logs
 * again once its acquire committed.
 */
describe('a takeover reads the logs the previous owner committed while it waited (e2e)', () => {
  const suite = suiteApp('tkread', [], { options: { worker: false } });
  const wf = () => `"${suite.schema}".chrono_forge_workflows`;
  const logs = () => `"${suite.schema}".chrono_forge_execution_logs`;

  /** A run whose lock `owner` held past its 50 ms lifetime (a stalled pass): stale, taken over. */
  async function staleRun(key: string, owner: string): Promise<string> {
    const { id } = await suite.app.get(WorkflowStore).insertRun('tk.none', key, null, 50);
    await sql(
      `UPDATE ${wf()} SET state = 'running', locked_by = $2, locked_at = now() - interval '1 minute'
       WHERE id = $1`,
      [id, owner],
    );
    return id;
  }

  /** Writes, in `client`'s transaction, a completed log of step `step` of run `id`. */
  async function completedLog(client: pg.Client, id: string, step: string): Promise<void> {
    await client.query(
      `INSERT INTO ${logs()} (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       VALUES ($1, $2, 'completed', 1, now(), now(), now(), '{"json":1}', '{}')`,
      [id, step],
    );
  }

  /** Waits until a statement is blocked by `client`'s transaction. */
  async function blockedBy(client: pg.Client): Promise<void> {
    const blocker = (client as unknown as { processID: number }).processID;
    await expect
      .poll(
        async () =>
          (
            await sql<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
              [blocker],
            )
          )[0].n,
        { timeout: 5_000 },
      )
      .toBe(1);
  }

  it("sees the previous owner's checkpoint that committed while its acquire waited", async () => {
    const id = await staleRun('k1', 'stalled-pass');
    const previous = new pg.Client({ connectionString: DATABASE_URL });
    await previous.connect();
    try {
      // The stalled pass's checkpoint, in flight: its fence share-locks the run's row.
      await previous.query('BEGIN');
      const wrote = await previous.query(
        `INSERT INTO ${logs()} (workflow_id, step_name, state, attempts, started_at,
           last_executed_at, completed_at, result, metadata)
         SELECT $1, 'step$one', 'completed', 1, now(), now(), now(), '{"json":1}', '{}'
         WHERE EXISTS (SELECT 1 FROM ${wf()} WHERE id = $1 AND locked_by = $2 FOR SHARE)`,
        [id, 'stalled-pass'],
      );
      expect(wrote.rowCount).toBe(1);
      const taking = suite.app.get(WorkflowStore).acquire(id, 'new-pass', Date.now());
      // The takeover's UPDATE waits for the row; then the checkpoint commits.
      await blockedBy(previous);
      await previous.query('COMMIT');
      const got = await taking;
      expect(got.kind).toBe('acquired');
      const read = got.kind === 'acquired' ? got.logs : [];
      expect(read.map((l) => [l.step_name, l.state])).toEqual([['step$one', 'completed']]);
      expect(got.kind === 'acquired' && got.run.state).toBe('running');
    } finally {
      await previous.end();
    }
  });

  // The snapshot saw the lock free (no `prev_owner`), but another pass took it, checkpointed and
  // let it go before the UPDATE reached the row: the UPDATE takes the newer row, the read is older.
  it('sees the checkpoint of a pass that took the free lock and let it go while it waited', async () => {
    const { id } = await suite.app.get(WorkflowStore).insertRun('tk.none', 'k4', null, 60_000);
    const other = new pg.Client({ connectionString: DATABASE_URL });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `UPDATE ${wf()} SET state = 'running', locked_by = 'other-pass', locked_at = now() WHERE id = $1`,
        [id],
      );
      const taking = suite.app.get(WorkflowStore).acquire(id, 'new-pass', Date.now());
      await blockedBy(other);
      await completedLog(other, id, 'step$one');
      await other.query(
        `UPDATE ${wf()} SET state = 'idle', locked_by = NULL, locked_at = NULL, next_run_at = now()
         WHERE id = $1`,
        [id],
      );
      await other.query('COMMIT');
      const got = await taking;
      expect(got.kind).toBe('acquired');
      const read = got.kind === 'acquired' ? got.logs : [];
      expect(read.map((l) => [l.step_name, l.state])).toEqual([['step$one', 'completed']]);
    } finally {
      await other.end();
    }
  });

  // A run whose row other transactions keep updating: each guarded try is refused (its row moved
  // after its snapshot); the last try waits its turn on the row instead, and reads the logs again.
  it('takes a run whose row keeps moving on its last try, reading the logs again', async () => {
    const { id } = await suite.app.get(WorkflowStore).insertRun('tk.none', 'k5', null, 60_000);
    const mover = new pg.Client({ connectionString: DATABASE_URL });
    await mover.connect();
    const moves: string[] = [];
    const original = pg.Client.prototype.query;
    const patched = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { text?: unknown };
      const text = typeof first === 'string' ? first : String(first?.text ?? '');
      const forward = () => (original as (...a: unknown[]) => unknown).apply(this, args);
      if (this === mover || !text.includes('AS prev_owner') || moves.length >= 4) return forward();
      // Each acquire's UPDATE waits for a write of the row that commits after its snapshot.
      const step = `step$move${moves.push(text.includes('IS NOT DISTINCT FROM') ? 'g' : 'last')}`;
      return (async () => {
        await mover.query('BEGIN');
        await mover.query(`UPDATE ${wf()} SET updated_at = now() WHERE id = $1`, [id]);
        await completedLog(mover, id, step);
        const sent = forward() as Promise<unknown>;
        await blockedBy(mover);
        await mover.query('COMMIT');
        return sent;
      })();
    };
    pg.Client.prototype.query = patched as typeof original;
    try {
      const got = await suite.app.get(WorkflowStore).acquire(id, 'hot-pass', Date.now());
      expect(moves).toEqual(['g', 'g', 'g', 'last']);
      expect(got.kind).toBe('acquired');
      const read = got.kind === 'acquired' ? got.logs.map((l) => l.step_name).sort() : [];
      expect(read).toEqual(['step$move1', 'step$move2', 'step$move3', 'step$move4']);
    } finally {
      pg.Client.prototype.query = original;
      await mover.end();
    }
  });

  /** Counts the re-reads of logs (`relog`), failing the first `fail` of them. */
  function watchRelogs(fail = 0) {
    const seen = { relogs: 0 };
    const original = pg.Client.prototype.query;
    const patched = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { text?: unknown };
      const text = typeof first === 'string' ? first : String(first?.text ?? '');
      if (text.includes('FROM unnest($1::bigint[]) AS r(id)')) {
        seen.relogs++;
        if (seen.relogs <= fail) {
          const err = new Error('injected: the re-read of the logs failed');
          const cb = args.find((x) => typeof x === 'function') as ((e: Error) => void) | undefined;
          if (cb) return void setImmediate(() => cb(err));
          return Promise.reject(err);
        }
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    pg.Client.prototype.query = patched as typeof original;
    return { seen, restore: () => (pg.Client.prototype.query = original) };
  }

  it('reads nothing again when it takes a free lock', async () => {
    const { id } = await suite.app.get(WorkflowStore).insertRun('tk.none', 'k2', null, 60_000);
    const watch = watchRelogs();
    try {
      const got = await suite.app.get(WorkflowStore).acquire(id, 'a-pass', Date.now());
      expect(got.kind).toBe('acquired');
      expect(got.kind === 'acquired' && got.logs).toEqual([]);
    } finally {
      watch.restore();
    }
    expect(watch.seen.relogs).toBe(0);
  });

  it('lets the lock go when the re-read keeps failing, so the next try takes the run', async () => {
    const id = await staleRun('k3', 'stalled-pass');
    const watch = watchRelogs(3);
    try {
      await expect(
        suite.app.get(WorkflowStore).acquire(id, 'new-pass', Date.now()),
      ).rejects.toThrow(/injected/);
      expect(watch.seen.relogs).toBe(3);
      const [row] = await sql<{ locked_by: string | null; state: string }>(
        `SELECT locked_by, state FROM ${wf()} WHERE id = $1`,
        [id],
      );
      expect(row).toEqual({ locked_by: null, state: 'running' });
      // The next pass takes it at once (free, not waiting for the lock to go stale).
      const got = await suite.app.get(WorkflowStore).acquire(id, 'next-pass', Date.now());
      expect(got.kind).toBe('acquired');
    } finally {
      watch.restore();
    }
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { toStoredLimits } from '../../lib/options/limit-options.js';
import { LimitStore, type LimitRequest } from '../../lib/limits/limit.store.js';
import { WorkflowLimits } from '../../lib/limits/workflow-limits.js';
import { WAKE_PENDING_MS } from '../../migrations/1763900000210-limit-wake-pending.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, eventually, sql, uniqueName } from '../support/env.js';

/**
 * The wake-ups of limit waiters against real PostgreSQL, no engine around them (migration
 * 1763900000210): a woken waiter is notified once until its pass comes back, and keeps its own
 * place in the room a release hands out, never one ahead of the queue.
 */
describe('limit wake-ups (e2e, PostgreSQL)', () => {
  const schema = uniqueName('cf_limwake');
  const queueName = uniqueName('q_limwake');
  const wf = `"${schema}".chrono_forge_workflows`;
  let app: INestApplicationContext;
  let limits: LimitStore;
  let admin: WorkflowLimits;
  let listener: pg.Client;
  const woken: string[] = [];
  let runs = 0;

  /** A run whose lock is held by pass `<worker>/<job>` of a live worker (or a dead one). */
  async function lockedRun(worker = 'w1', dead = false): Promise<{ runId: string; owner: string }> {
    const n = ++runs;
    const owner = `${worker}/job-${n}`;
    const beat = dead ? `now() - interval '1 hour'` : 'now()';
    await sql(
      `INSERT INTO "${schema}".chrono_forge_workers (id, heartbeat_at) VALUES ($1, ${beat})
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at`,
      [worker],
    );
    const [row] = await sql<{ id: string }>(
      `INSERT INTO ${wf} (key, job_name, max_duration_ms, state, locked_at, locked_by)
       VALUES ($1, 'limits.test', 600000, 'running', ${beat}, $2) RETURNING id::text`,
      [`run-${n}`, owner],
    );
    return { runId: row.id, owner };
  }

  /** Ends the run's pass as the engine would: parked idle (its waits kept), lock released. */
  async function park(runId: string): Promise<void> {
    await sql(`UPDATE ${wf} SET state = 'idle', locked_by = NULL, locked_at = NULL WHERE id = $1`, [
      runId,
    ]);
  }

  /** Takes the lock of a parked run for a new pass. */
  async function resume(runId: string, worker = 'w1'): Promise<string> {
    const owner = `${worker}/job-${++runs}`;
    await sql(
      `UPDATE ${wf} SET state = 'running', locked_by = $2, locked_at = now() WHERE id = $1`,
      [runId, owner],
    );
    return owner;
  }

  const req = (r: { runId: string; owner: string }, name: string, key = ''): LimitRequest => ({
    ...r,
    holder: 'step$call',
    claims: [{ name, key }],
  });

  beforeAll(async () => {
    app = await bootApp({
      schema,
      queueName,
      options: { worker: false, database: { url: DATABASE_URL, schema, poolSize: 6 } },
    });
    limits = new LimitStore(app.get(WorkflowStore));
    admin = new WorkflowLimits(limits);
    await limits.declare(toStoredLimits({ one: { concurrency: 1 } }));
    listener = new pg.Client({ connectionString: DATABASE_URL });
    await listener.connect();
    listener.on('notification', (m) => {
      if (m.payload?.startsWith(`${schema}:`)) woken.push(m.payload.slice(schema.length + 1));
    });
    await listener.query('LISTEN chronoforge_wake');
  });

  afterAll(async () => {
    await listener?.end();
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should notify a woken waiter once until its pass comes back, and again after the pending time', async () => {
    const [h, w1, w2] = await Promise.all([lockedRun(), lockedRun(), lockedRun()]);
    expect((await limits.acquire(req(h, 'one', 'once'))).kind).toBe('admitted');
    for (const r of [w1, w2]) {
      expect((await limits.acquire(req(r, 'one', 'once'))).kind).toBe('waiting');
      await park(r.runId);
    }
    woken.length = 0;
    expect(await limits.release(h.runId, h.owner, ['step$call'])).toBe(1);
    // Sweeps of three worker processes, several times, while w1's wake-up job is still queued: the
    // room is w1's, so neither w1 again nor w2 is notified (before: one notification per sweep).
    let more = 0;
    for (let i = 0; i < 6; i++) more += (await limits.sweep()).woken;
    expect(more).toBe(0);
    await eventually(async () => woken.includes(w1.runId), 5_000, 'the wake-up of the head');
    await new Promise((r) => setTimeout(r, 200)); // every notification sent has arrived
    expect(woken.filter((id) => id === w1.runId)).toHaveLength(1);
    expect(woken).not.toContain(w2.runId);
    // The wake-up is lost (no pass came back): past the pending time the sweep sends it again.
    await sql(
      `UPDATE "${schema}".chrono_forge_limit_slots SET woken_at = woken_at - interval '${WAKE_PENDING_MS + 100} milliseconds'
       WHERE run_id = $1`,
      [w1.runId],
    );
    expect((await limits.sweep()).woken).toBe(1);
    await eventually(
      async () => woken.filter((id) => id === w1.runId).length === 2,
      5_000,
      'the second wake-up',
    );
    // w1's pass comes back and is refused (a newcomer's priority, say): queued again, it is woken by
    // the next release at once, not only after the pending time.
    const w1b = { runId: w1.runId, owner: await resume(w1.runId) };
    const [row] = await sql<{ woken_at: Date | null }>(
      `SELECT woken_at FROM "${schema}".chrono_forge_limit_slots WHERE run_id = $1`,
      [w1.runId],
    );
    expect(row.woken_at).not.toBeNull();
    const back = await limits.acquire(req(w1b, 'one', 'once'));
    expect(back.kind).toBe('admitted');
    expect((await admin.get('one')).waiting.map((w) => w.runId)).toContain(w2.runId);
  });

  it('should wake the head when a woken waiter is behind it (a higher priority queued since)', async () => {
    const [h, late, x, head] = await Promise.all([
      lockedRun(),
      lockedRun(),
      lockedRun(),
      lockedRun(),
    ]);
    expect((await limits.acquire(req(h, 'one', 'behind'))).kind).toBe('admitted');
    expect((await limits.acquire({ ...req(late, 'one', 'behind'), priority: 5 })).kind).toBe(
      'waiting',
    );
    await park(late.runId);
    expect(await limits.release(h.runId, h.owner, ['step$call'])).toBe(1); // late is on its way
    // Before its pass comes back, a run of a higher priority takes the free slot and another one
    // queues ahead of it.
    expect((await limits.acquire(req(x, 'one', 'behind'))).kind).toBe('admitted');
    expect((await limits.acquire(req(head, 'one', 'behind'))).kind).toBe('waiting');
    await park(head.runId);
    woken.length = 0;
    // x's release must wake the head: late's pass will be refused (head is ahead of it), and no
    // other release comes to wake the head (before: nobody until the recovery sweep).
    expect(await limits.release(x.runId, x.owner, ['step$call'])).toBe(1);
    await eventually(async () => woken.includes(head.runId), 5_000, 'the wake-up of the head');
    const lateBack = { runId: late.runId, owner: await resume(late.runId) };
    const refused = await limits.acquire({ ...req(lateBack, 'one', 'behind'), priority: 5 });
    expect(refused).toMatchObject({ kind: 'waiting', ahead: 1 });
    const headBack = { runId: head.runId, owner: await resume(head.runId) };
    expect((await limits.acquire(req(headBack, 'one', 'behind'))).kind).toBe('admitted');
  });

  it('should wake the head of an ordered lock when a woken waiter of a later run is behind it', async () => {
    // Run ids in start order: x, head, h, late. An ordered lock queues its waiters by run id.
    const x = await lockedRun();
    const head = await lockedRun();
    const h = await lockedRun();
    const late = await lockedRun();
    const lock = (r: { runId: string; owner: string }) => req(r, '$lock$ordered', 'acct');
    await limits.declare(new Map([['$lock$ordered', { concurrency: 1, ordered: true }]]));
    expect((await limits.acquire(lock(h))).kind).toBe('admitted');
    expect((await limits.acquire(lock(late))).kind).toBe('waiting');
    await park(late.runId);
    expect(await limits.release(h.runId, h.owner, ['step$call'])).toBe(1); // late is on its way
    // Older runs ask before late's pass comes back: x (no waiter of an older run) takes the lock,
    // head queues ahead of late.
    expect((await limits.acquire(lock(x))).kind).toBe('admitted');
    expect((await limits.acquire(lock(head))).kind).toBe('waiting');
    await park(head.runId);
    woken.length = 0;
    expect(await limits.release(x.runId, x.owner, ['step$call'])).toBe(1);
    await eventually(async () => woken.includes(head.runId), 5_000, 'the wake-up of the head');
    const lateBack = { runId: late.runId, owner: await resume(late.runId) };
    expect(await limits.acquire(lock(lateBack))).toMatchObject({ kind: 'waiting', ahead: 1 });
    const headBack = { runId: head.runId, owner: await resume(head.runId) };
    expect((await limits.acquire(lock(headBack))).kind).toBe('admitted');
  });
});

import { describe, expect, it } from 'vitest';
import { WAKE_PENDING_MS } from '../../migrations/1763900000210-limit-wake-pending.js';
import { limitStoreSuite } from '../support/limit-store-suite.js';
import { eventually, sql } from '../support/env.js';

/**
 * The wake-ups of limit waiters against real PostgreSQL, no engine around them (migration
 * 1763900000210): a woken waiter is notified once until its pass comes back, and keeps its own
 * place in the room a release hands out, never one ahead of the queue.
 */
describe('limit wake-ups (e2e, PostgreSQL)', () => {
  const suite = limitStoreSuite('limwake', { one: { concurrency: 1 } });
  const { schema, woken, lockedRun, park, resume, req } = suite;

  it('should notify a woken waiter once until its pass comes back, and again after the pending time', async () => {
    const [h, w1, w2] = await Promise.all([lockedRun(), lockedRun(), lockedRun()]);
    expect((await suite.limits.acquire(req(h, 'one', 'once'))).kind).toBe('admitted');
    for (const r of [w1, w2]) {
      expect((await suite.limits.acquire(req(r, 'one', 'once'))).kind).toBe('waiting');
      await park(r.runId);
    }
    woken.length = 0;
    expect(await suite.limits.release(h.runId, h.owner, ['step$call'])).toBe(1);
    // Sweeps of three worker processes, several times, while w1's wake-up job is still queued: the
    // room is w1's, so neither w1 again nor w2 is notified (before: one notification per sweep).
    let more = 0;
    for (let i = 0; i < 6; i++) more += (await suite.limits.sweep()).woken;
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
    expect((await suite.limits.sweep()).woken).toBe(1);
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
    const back = await suite.limits.acquire(req(w1b, 'one', 'once'));
    expect(back.kind).toBe('admitted');
    expect((await suite.admin.get('one')).waiting.map((w) => w.runId)).toContain(w2.runId);
  });

  it('should wake the head when a woken waiter is behind it (a higher priority queued since)', async () => {
    const [h, late, x, head] = await Promise.all([
      lockedRun(),
      lockedRun(),
      lockedRun(),
      lockedRun(),
    ]);
    expect((await suite.limits.acquire(req(h, 'one', 'behind'))).kind).toBe('admitted');
    expect((await suite.limits.acquire({ ...req(late, 'one', 'behind'), priority: 5 })).kind).toBe(
      'waiting',
    );
    await park(late.runId);
    expect(await suite.limits.release(h.runId, h.owner, ['step$call'])).toBe(1); // late is on its way
    // Before its pass comes back, a run of a higher priority takes the free slot and another one
    // queues ahead of it.
    expect((await suite.limits.acquire(req(x, 'one', 'behind'))).kind).toBe('admitted');
    expect((await suite.limits.acquire(req(head, 'one', 'behind'))).kind).toBe('waiting');
    await park(head.runId);
    woken.length = 0;
    // x's release must wake the head: late's pass will be refused (head is ahead of it), and no
    // other release comes to wake the head (before: nobody until the recovery sweep).
    expect(await suite.limits.release(x.runId, x.owner, ['step$call'])).toBe(1);
    await eventually(async () => woken.includes(head.runId), 5_000, 'the wake-up of the head');
    const lateBack = { runId: late.runId, owner: await resume(late.runId) };
    const refused = await suite.limits.acquire({ ...req(lateBack, 'one', 'behind'), priority: 5 });
    expect(refused).toMatchObject({ kind: 'waiting', ahead: 1 });
    const headBack = { runId: head.runId, owner: await resume(head.runId) };
    expect((await suite.limits.acquire(req(headBack, 'one', 'behind'))).kind).toBe('admitted');
  });

  it('should wake the head of an ordered lock when a woken waiter of a later run is behind it', async () => {
    // Run ids in start order: x, head, h, late. An ordered lock queues its waiters by run id.
    const x = await lockedRun();
    const head = await lockedRun();
    const h = await lockedRun();
    const late = await lockedRun();
    const lock = (r: { runId: string; owner: string }) => req(r, '$lock$ordered', 'acct');
    await suite.limits.declare(new Map([['$lock$ordered', { concurrency: 1, ordered: true }]]));
    expect((await suite.limits.acquire(lock(h))).kind).toBe('admitted');
    expect((await suite.limits.acquire(lock(late))).kind).toBe('waiting');
    await park(late.runId);
    expect(await suite.limits.release(h.runId, h.owner, ['step$call'])).toBe(1); // late is on its way
    // Older runs ask before late's pass comes back: x (no waiter of an older run) takes the lock,
    // head queues ahead of late.
    expect((await suite.limits.acquire(lock(x))).kind).toBe('admitted');
    expect((await suite.limits.acquire(lock(head))).kind).toBe('waiting');
    await park(head.runId);
    woken.length = 0;
    expect(await suite.limits.release(x.runId, x.owner, ['step$call'])).toBe(1);
    await eventually(async () => woken.includes(head.runId), 5_000, 'the wake-up of the head');
    const lateBack = { runId: late.runId, owner: await resume(late.runId) };
    expect(await suite.limits.acquire(lock(lateBack))).toMatchObject({ kind: 'waiting', ahead: 1 });
    const headBack = { runId: head.runId, owner: await resume(head.runId) };
    expect((await suite.limits.acquire(lock(headBack))).kind).toBe('admitted');
  });
});

import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, UnknownLimitError } from '../../lib/index.js';
import { limitStoreSuite } from '../support/limit-store-suite.js';
import { eventually, sql } from '../support/env.js';

/** The limit primitives against real PostgreSQL: acquire/release/wake/sweep, no engine around them. */
describe('limit store (e2e, PostgreSQL)', () => {
  const suite = limitStoreSuite('limstore', {
    one: { concurrency: 1 },
    three: { concurrency: 3 },
    api: {
      rate: [
        { limit: 3, per: '1s' },
        { limit: 1000, per: '1h' },
      ],
    },
    multi: {
      rate: [
        { limit: 3, per: '1s' },
        { limit: 5, per: '10s' },
      ],
    },
  });
  const { schema, wf, woken, lockedRun, park, resume, req } = suite;

  it('should never admit more holders than the concurrency, with 24 runs racing on 6 connections', async () => {
    const holders = await Promise.all(Array.from({ length: 24 }, () => lockedRun()));
    let inside = 0;
    let peak = 0;
    let waits = 0;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await Promise.all(
      holders.map(async (h, i) => {
        for (let round = 0; round < 3; round++) {
          for (;;) {
            const got = await suite.limits.acquire({
              ...req(h, 'three', 'k'),
              holder: `s${round}`,
            });
            if (got.kind === 'admitted') break;
            expect(got.kind).toBe('waiting');
            waits++;
            await sleep(3);
          }
          peak = Math.max(peak, ++inside);
          await sleep(10 + 2 * (i % 5));
          inside--; // before the release: the ledger never counts a slot the table does not hold
          expect(await suite.limits.release(h.runId, h.owner, [`s${round}`])).not.toBeNull();
        }
      }),
    );
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2); // the holders did overlap
    expect(waits).toBeGreaterThan(0);
    const [{ n }] = await sql<{ n: string }>(
      `SELECT count(*) AS n FROM "${schema}".chrono_forge_limit_slots WHERE name = 'three'`,
    );
    expect(Number(n)).toBe(0);
  });

  it('should admit exactly the concurrency when 8 newcomers hit a fresh key at once, 20 times', async () => {
    const callers = await Promise.all(Array.from({ length: 8 }, () => lockedRun()));
    for (let round = 0; round < 20; round++) {
      const got = await Promise.all(
        callers.map((h) => suite.limits.acquire(req(h, 'three', `b${round}`))),
      );
      expect(got.filter((g) => g.kind === 'admitted')).toHaveLength(3);
    }
  });

  it('should admit waiters in arrival order, wake the head on release and refuse newcomers meanwhile', async () => {
    const [a, b, c, d] = await Promise.all([lockedRun(), lockedRun(), lockedRun(), lockedRun()]);
    expect((await suite.limits.acquire(req(a, 'one', 'fifo'))).kind).toBe('admitted');
    for (const [r, ahead] of [
      [b, 0],
      [c, 1],
    ] as const) {
      expect(await suite.limits.acquire(req(r, 'one', 'fifo'))).toMatchObject({
        kind: 'waiting',
        limit: 'one',
        key: 'fifo',
        ahead,
        wakeAt: null,
      });
      await park(r.runId);
    }
    woken.length = 0;
    expect(await suite.limits.release(a.runId, a.owner, ['step$call'])).toBe(1);
    await eventually(async () => woken.includes(b.runId), 5_000, 'the wake-up of the head');
    expect(woken).not.toContain(c.runId);
    // A newcomer does not take the place the head was woken for.
    expect(await suite.limits.acquire(req(d, 'one', 'fifo'))).toMatchObject({
      kind: 'waiting',
      ahead: 2,
    });
    // c comes back before b: still behind b.
    const c2 = { runId: c.runId, owner: await resume(c.runId) };
    expect(await suite.limits.acquire(req(c2, 'one', 'fifo'))).toMatchObject({
      kind: 'waiting',
      ahead: 1,
    });
    const b2 = { runId: b.runId, owner: await resume(b.runId) };
    const admitted = await suite.limits.acquire(req(b2, 'one', 'fifo'));
    expect(admitted.kind).toBe('admitted');
    if (admitted.kind === 'admitted') expect(admitted.waitedMs).toBeGreaterThan(0);
    expect((await suite.admin.get('one')).holders).toMatchObject([{ key: 'fifo', runId: b.runId }]);
    expect((await suite.admin.get('one')).waiting.map((w) => w.runId)).toEqual([c.runId, d.runId]);
    expect(await suite.limits.waitsOf(c.runId)).toMatchObject([{ limit: 'one', key: 'fifo' }]);
  });

  it('should keep every 1 s window at 3 grants and tell a refused caller when a window has room', async () => {
    const callers = await Promise.all(Array.from({ length: 10 }, () => lockedRun()));
    const started = Date.now();
    await Promise.all(
      callers.map(async (h) => {
        for (;;) {
          const got = await suite.limits.acquire(req(h, 'api', 'stripe'));
          if (got.kind === 'admitted') return;
          if (got.kind !== 'waiting' || !got.wakeAt) throw new Error(`unexpected ${got.kind}`);
          await new Promise((r) => setTimeout(r, Math.max(0, got.wakeAt!.getTime() - Date.now())));
        }
      }),
    );
    const elapsed = Date.now() - started;
    // The 1 h window keeps every grant time: check every 1 s window on the database's clock.
    const [{ recent }] = await sql<{ recent: Date[] }>(
      `SELECT recent FROM "${schema}".chrono_forge_limit_keys WHERE name = 'api' AND key = 'stripe'`,
    );
    const times = recent.map((d) => d.getTime()).sort((x, y) => x - y);
    expect(times).toHaveLength(10);
    for (let i = 3; i < times.length; i++)
      expect(times[i] - times[i - 3]).toBeGreaterThanOrEqual(1000);
    // 10 grants at 3/s: the 10th is due 3 s after the first; not much later.
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(elapsed).toBeLessThan(4_500);
  });

  it('should enforce every window of a multi-window rate limit', async () => {
    const callers = await Promise.all(Array.from({ length: 6 }, () => lockedRun()));
    const results = [];
    for (const h of callers) results.push(await suite.limits.acquire(req(h, 'multi')));
    expect(results.slice(0, 3).map((r) => r.kind)).toEqual(['admitted', 'admitted', 'admitted']);
    // A rate grant must be used within the window's guard (5 % of 1 s) of its request.
    const first = results[0];
    expect(first.kind === 'admitted' && first.startBy).toBeGreaterThan(performance.now() - 1_000);
    const fourth = results[3];
    expect(fourth).toMatchObject({ kind: 'waiting', ahead: 0 });
    const wait =
      fourth.kind === 'waiting' && fourth.wakeAt ? fourth.wakeAt.getTime() - Date.now() : -1;
    expect(wait).toBeGreaterThan(700);
    expect(wait).toBeLessThanOrEqual(1_050); // the window plus its 5 % guard
    for (const h of callers.slice(3, 5)) {
      for (;;) {
        const got = await suite.limits.acquire(req(h, 'multi'));
        if (got.kind === 'admitted') break;
        const at = got.kind === 'waiting' ? got.wakeAt : null;
        expect(at).not.toBeNull();
        await new Promise((r) => setTimeout(r, Math.max(0, at!.getTime() - Date.now())));
      }
    }
    // 5 grants in 10 s: the 6th waits for the first to leave the 10 s window.
    const sixth = await suite.limits.acquire(req(callers[5], 'multi'));
    expect(sixth).toMatchObject({ kind: 'waiting', limit: 'multi' });
    const wait6 =
      sixth.kind === 'waiting' && sixth.wakeAt ? sixth.wakeAt.getTime() - Date.now() : -1;
    expect(wait6).toBeGreaterThan(7_500);
    expect(wait6).toBeLessThanOrEqual(10_100);
  });

  it('should free the slot of a dead worker at the next sweep and wake the waiter', async () => {
    const dead = await lockedRun('w-dead');
    expect((await suite.limits.acquire(req(dead, 'one', 'reap'))).kind).toBe('admitted');
    await sql(
      `UPDATE "${schema}".chrono_forge_workers SET heartbeat_at = now() - interval '1 hour' WHERE id = 'w-dead'`,
    );
    await sql(`UPDATE ${wf} SET locked_at = now() - interval '1 hour' WHERE id = $1`, [dead.runId]);
    const waiter = await lockedRun();
    expect(await suite.limits.acquire(req(waiter, 'one', 'reap'))).toMatchObject({
      kind: 'waiting',
    });
    await park(waiter.runId);
    woken.length = 0;
    const swept = await suite.limits.sweep();
    expect(swept.reaped).toBeGreaterThanOrEqual(1);
    await eventually(async () => woken.includes(waiter.runId), 5_000, 'the waiter woken');
    const again = { runId: waiter.runId, owner: await resume(waiter.runId) };
    expect((await suite.limits.acquire(req(again, 'one', 'reap'))).kind).toBe('admitted');
  });

  it('should apply a runtime change at once, wake the waiters it admits, and reset to the declared one', async () => {
    const [a, b, c] = await Promise.all([lockedRun(), lockedRun(), lockedRun()]);
    expect((await suite.limits.acquire(req(a, 'one', 'live'))).kind).toBe('admitted');
    for (const r of [b, c]) {
      expect((await suite.limits.acquire(req(r, 'one', 'live'))).kind).toBe('waiting');
      await park(r.runId);
    }
    woken.length = 0;
    await suite.admin.set('one', { concurrency: 3 });
    await eventually(
      async () => woken.includes(b.runId) && woken.includes(c.runId),
      5_000,
      'wakes',
    );
    expect((await suite.admin.get('one')).effective).toEqual({ concurrency: 3 });
    await suite.admin.reset('one');
    expect(await suite.admin.get('one')).toMatchObject({
      effective: { concurrency: 1 },
      override: null,
    });
    expect(
      (
        await suite.limits.acquire(
          req({ runId: b.runId, owner: await resume(b.runId) }, 'one', 'live'),
        )
      ).kind,
    ).toBe('waiting');
  });

  it('should refuse unknown limits, bad definitions and a pass that lost its run', async () => {
    const r = await lockedRun();
    await expect(suite.limits.acquire(req(r, 'nope'))).rejects.toBeInstanceOf(UnknownLimitError);
    await expect(suite.admin.get('nope')).rejects.toBeInstanceOf(UnknownLimitError);
    await expect(suite.admin.set('x', { concurrency: 0 })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
    await expect(suite.admin.set('x', {})).rejects.toThrow(/needs concurrency, rate, or both/);
    await expect(suite.admin.set('x', { rate: { limit: 3, per: 'soon' as '1s' } })).rejects.toThrow(
      /per/,
    );
    expect(
      await suite.limits.acquire({ ...req(r, 'one', 'lost'), owner: 'w1/another-pass' }),
    ).toEqual({
      kind: 'lost',
    });
  });
});

import { describe, expect, it } from 'vitest';
import { SWEEP_BATCH } from '../../lib/limits/limit.sql.js';
import { limitStoreSuite } from '../support/limit-store-suite.js';
import { eventually, sql } from '../support/env.js';

/** The limits' recovery sweep visits every key over successive sweeps, SWEEP_BATCH at a time. */
describe('limit sweep in batches (e2e, PostgreSQL)', () => {
  const suite = limitStoreSuite('limsweep', { one: { concurrency: 1 } });
  const { schema, wf, woken } = suite;

  async function run(key: string, owner: string | null, dead = false): Promise<string> {
    const at = dead ? `now() - interval '1 hour'` : 'now()';
    const [row] = await sql<{ id: string }>(
      `INSERT INTO ${wf} (key, job_name, max_duration_ms, state, locked_at, locked_by)
       VALUES ($1, 'limits.test', 600000, $2, CASE WHEN $3::text IS NULL THEN NULL ELSE ${at} END, $3)
       RETURNING id::text`,
      [key, owner ? 'running' : 'idle', owner],
    );
    return row.id;
  }

  it("reaches a dead holder's key that sorts after more than a batch of busy keys", async () => {
    // SWEEP_BATCH + 50 keys, each with a live holder and a parked waiter: the normal state of busy
    // keys, which every sweep looks at and leaves as they are.
    const busy = SWEEP_BATCH + 50;
    await sql(
      `INSERT INTO "${schema}".chrono_forge_workers (id, heartbeat_at) VALUES ('w-live', now()), ('w-dead', now() - interval '1 hour')`,
    );
    const holder = await run('busy-holder', 'w-live/job-0');
    const parked = await run('busy-waiter', null);
    await sql(
      `INSERT INTO "${schema}".chrono_forge_limit_slots (name, key, run_id, holder, state, owner, acquired_at)
       SELECT 'one', 'a' || lpad(i::text, 4, '0'), $1::bigint, 'step$call', 'held', 'w-live/job-0', now()
         FROM generate_series(1, ${busy}) i
       UNION ALL
       SELECT 'one', 'a' || lpad(i::text, 4, '0'), $2::bigint, 'step$call', 'waiting', NULL, NULL
         FROM generate_series(1, ${busy}) i`,
      [holder, parked],
    );
    // The key that sorts last: its holder's worker is dead, a run waits behind it.
    const dead = await run('dead-holder', 'w-dead/job-1', true);
    const waiter = await run('dead-waiter', null);
    await sql(
      `INSERT INTO "${schema}".chrono_forge_limit_slots (name, key, run_id, holder, state, owner, acquired_at)
       VALUES ('one', 'zz', $1, 'step$call', 'held', 'w-dead/job-1', now() - interval '1 hour'),
              ('one', 'zz', $2, 'step$call', 'waiting', NULL, NULL)`,
      [dead, waiter],
    );
    woken.length = 0;
    // Each sweep visits the next SWEEP_BATCH keys (the first from a random key, wrapping): within
    // the sweeps one round takes, the dead holder's key is reached.
    let reaped = 0;
    for (let i = 0; i < Math.ceil((busy + 1) / SWEEP_BATCH) + 1; i++)
      reaped += (await suite.limits.sweep()).reaped;
    expect(reaped).toBe(1);
    await eventually(async () => woken.includes(waiter), 5_000, 'the waiter of the dead key woken');
    // The busy keys kept their holders and waiters.
    const [left] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".chrono_forge_limit_slots WHERE key LIKE 'a%'`,
    );
    expect(left.n).toBe(2 * busy);
  });
});

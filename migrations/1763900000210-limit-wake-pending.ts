import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';
import { flowFunctionsSql } from './1763900000170-flow-control-functions.js';

/** Replaces `from` by `to` in `sql` (every occurrence); throws when `from` is absent. */
function patch(sql: string, from: string, to: string): string {
  if (!sql.includes(from)) throw new Error(`migration 1763900000210: pattern not found: ${from}`);
  return sql.split(from).join(to);
}

/**
 * How long a woken waiter counts as on its way: its wake-up job is queued (maybe behind a backlog)
 * and its pass will ask again. Within it, no wake (release, sweep, limit change) notifies it again,
 * and it takes one of the slots the wake hands out. Past it, a lost wake-up is re-sent by the next
 * release or recovery sweep.
 */
export const WAKE_PENDING_MS = 2_000;

/**
 * The wake and acquire functions of migration 1763900000210: those of 1763900000170, patched so
 * that a waiter is notified once per wake-up, not once per wake call:
 *
 * - the wake function stamps `woken_at` on the waiters it notifies; those woken within
 *   {@link WAKE_PENDING_MS} keep their place in the room it hands out (to the first waiters in
 *   the acquire's order) but are not notified again;
 * - the acquire function clears `woken_at` when it (re-)queues a waiter: its pass came back.
 *
 * Before, each recovery sweep of each worker process and each release re-notified every waiter that
 * fit, whether or not its wake-up job was still queued: under a backlog (the PostgreSQL queue adds
 * jobs one at a time) the jobs grew faster than they ran (7 000 jobs for 190 waiting runs within a
 * minute in the limits acceptance, 500 runs on 3 workers), and the waiters starved.
 */
export function wakePendingFunctionsSql(s: string): string[] {
  const slots = `${s}.chrono_forge_limit_slots`;
  const [wake, acquire] = flowFunctionsSql(s);
  const pending = `q.woken_at > t - interval '${WAKE_PENDING_MS} milliseconds'`;
  // NOTE: the room goes to the first waiters in the acquire's order, pending or not; only those
  // not pending are notified. Subtracting every pending waiter from the room (before) starved a
  // waiter queued ahead of a pending one (a higher priority, an older run of an ordered lock): the
  // pending one's pass is refused and re-queued, and nobody woke the head until a recovery sweep.
  let w = patch(
    wake,
    `      FOR r IN SELECT q.run_id FROM`,
    `      FOR r IN SELECT q.id, q.run_id, coalesce(${pending}, false) AS pending FROM`,
  );
  w = patch(
    w,
    `        PERFORM pg_notify(`,
    `        CONTINUE WHEN r.pending;
        PERFORM pg_notify(`,
  );
  w = patch(
    w,
    `        n := n + 1;`,
    `        UPDATE ${slots} SET woken_at = t WHERE id = r.id;
        n := n + 1;`,
  );
  const a = patch(
    acquire,
    'DO UPDATE SET owner = EXCLUDED.owner, priority = EXCLUDED.priority;',
    'DO UPDATE SET owner = EXCLUDED.owner, priority = EXCLUDED.priority, woken_at = NULL;',
  );
  return [w, a];
}

/**
 * Wake-ups of limit waiters sent once per wake-up (see {@link wakePendingFunctionsSql}):
 * `chrono_forge_limit_slots.woken_at`, the time a waiter was last notified.
 */
export class ChronoForgeLimitWakePending1763900000210 implements MigrationInterface {
  name = 'ChronoForgeLimitWakePending1763900000210';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_limit_slots ADD COLUMN woken_at timestamptz`,
    );
    for (const statement of wakePendingFunctionsSql(s)) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const [wake, acquire] = flowFunctionsSql(s);
    for (const statement of [wake, acquire]) await queryRunner.query(statement);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_limit_slots DROP COLUMN IF EXISTS woken_at`,
    );
  }
}

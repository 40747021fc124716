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
 * - the wake function stamps `woken_at` on the waiters it notifies, skips those woken within
 *   {@link WAKE_PENDING_MS} and counts them against the room it hands out;
 * - the acquire function clears `woken_at` when it (re-)queues a waiter: its pass came back.
 *
 * Before, each recovery sweep of each worker process and each release re-notified every waiter that
 * fit, whether or not its wake-up job was still queued: under a backlog (the PostgreSQL queue adds
 * jobs one at a time) the jobs grew faster than they ran (7 000 jobs for 190 waiting runs within a
 * minute in the limits acceptance, 500 runs on 3 workers), and the waiters starved.
 */
export function wakePendingFunctionsSql(s: string): string[] {
  const slots = `${s}.chrono_forge_limit_slots`;
  const wf = `${s}.chrono_forge_workflows`;
  const [wake, acquire] = flowFunctionsSql(s);
  const pending = `q.woken_at > t - interval '${WAKE_PENDING_MS} milliseconds'`;
  let w = patch(
    wake,
    `      IF avail <= 0 THEN RETURN 0; END IF;
      FOR r IN SELECT q.run_id FROM`,
    `      IF avail <= 0 THEN RETURN 0; END IF;
      SELECT avail - count(*) INTO avail FROM ${slots} q JOIN ${wf} w ON w.id = q.run_id
        AND w.state IN ('idle', 'running')
        WHERE q.name = p_name AND q.key = p_key AND q.state = 'waiting' AND ${pending};
      IF avail <= 0 THEN RETURN 0; END IF;
      FOR r IN SELECT q.id, q.run_id FROM`,
  );
  w = patch(
    w,
    `WHERE q.name = p_name AND q.key = p_key AND q.state = 'waiting'
          ORDER BY`,
    `WHERE q.name = p_name AND q.key = p_key AND q.state = 'waiting'
            AND NOT coalesce(${pending}, false)
          ORDER BY`,
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

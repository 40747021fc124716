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
 * `chrono_forge_limit_restamp(name, key, granted)`: a rate grant whose body could not start within
 * the window's guard (the process stalled) moves to now when every window of the limit still has
 * room for it counted from now (true); otherwise it is given back (false) and the step asks again.
 * Before, the move was unconditional: the grants made since may have filled the window it moved
 * into, or pushed it out of the key's recent grants (then the move did nothing and the body ran
 * anyway: 4 bodies in one second of a 3/s limit at load 14).
 */
export function restampFunctionSql(s: string): string {
  const keys = `${s}.chrono_forge_limit_keys`;
  const limits = `${s}.chrono_forge_limits`;
  const span = `((win->>'per_ms')::bigint + coalesce((win->>'guard_ms')::bigint, 0)) * interval '1 millisecond'`;
  return `
    CREATE OR REPLACE FUNCTION ${s}.chrono_forge_limit_restamp(p_name text, p_key text,
        p_granted timestamptz) RETURNS boolean
    LANGUAGE plpgsql AS $fn$
    DECLARE
      cfg jsonb;
      rec timestamptz[];
      win jsonb;
      cnt integer;
      keep integer;
      t timestamptz;
    BEGIN
      SELECT k.recent INTO rec FROM ${keys} k WHERE k.name = p_name AND k.key = p_key FOR UPDATE;
      IF NOT FOUND THEN RETURN false; END IF;
      SELECT coalesce(l.override, l.declared) INTO cfg FROM ${limits} l WHERE l.name = p_name;
      IF cfg->'rate' IS NULL THEN RETURN true; END IF; -- a concurrency only: no grant to move
      t := clock_timestamp();
      FOR win IN SELECT * FROM jsonb_array_elements(coalesce(cfg->'rate', '[]'::jsonb)) LOOP
        SELECT count(*) INTO cnt FROM unnest(coalesce(rec, '{}')) e
          WHERE e > t - ${span} AND e <> p_granted;
        IF cnt >= (win->>'limit')::integer THEN
          UPDATE ${keys} SET recent = array_remove(recent, p_granted)
            WHERE name = p_name AND key = p_key;
          RETURN false;
        END IF;
      END LOOP;
      SELECT max((w2->>'limit')::integer) INTO keep
        FROM jsonb_array_elements(coalesce(cfg->'rate', '[]'::jsonb)) w2;
      UPDATE ${keys} SET recent = (ARRAY[t] || array_remove(recent, p_granted))[1:coalesce(keep, 1)]
        WHERE name = p_name AND key = p_key;
      RETURN true;
    END
    $fn$`;
}

/**
 * Wake-ups of limit waiters sent once per wake-up (see {@link wakePendingFunctionsSql}):
 * `chrono_forge_limit_slots.woken_at`, the time a waiter was last notified; and late rate grants
 * moved to their body's start only when the windows have room ({@link restampFunctionSql}).
 */
export class ChronoForgeLimitWakePending1763900000210 implements MigrationInterface {
  name = 'ChronoForgeLimitWakePending1763900000210';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_limit_slots ADD COLUMN woken_at timestamptz`,
    );
    for (const statement of wakePendingFunctionsSql(s)) await queryRunner.query(statement);
    await queryRunner.query(restampFunctionSql(s));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `DROP FUNCTION IF EXISTS ${s}.chrono_forge_limit_restamp(text, text, timestamptz)`,
    );
    const [wake, acquire] = flowFunctionsSql(s);
    for (const statement of [wake, acquire]) await queryRunner.query(statement);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_limit_slots DROP COLUMN IF EXISTS woken_at`,
    );
  }
}

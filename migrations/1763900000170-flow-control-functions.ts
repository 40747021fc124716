import { limitFunctionsSql } from './1763900000006-limit-functions.js';

/** Replaces `from` by `to` in `sql` (every occurrence); throws when `from` is absent. */
function patch(sql: string, from: string | RegExp, to: string): string {
  const found = typeof from === 'string' ? sql.includes(from) : from.test(sql);
  if (!found) throw new Error(`migration 1763900000170: pattern not found: ${String(from)}`);
  return typeof from === 'string' ? sql.split(from).join(to) : sql.replace(from, to);
}

/** Holder of a singleton slot: kept across passes, freed when the run ends. */
export const SINGLETON_HOLDER_SQL = `'$singleton'`;

/**
 * The limit functions of migration 1763900000170: those of 1763900000006 (frozen), patched so that
 *
 * - waiters are ordered by `(priority, coalesce(ord, id))`: a limit whose definition says
 *   `"ordered": true` (an ordered lock) queues its waiters by run id, i.e. by run start order,
 *   instead of by arrival;
 * - a pass's end (`'pass'` release) keeps the slots held by `$singleton` (a singleton run holds its
 *   slot for its whole life; the run's end frees it).
 */
export function flowFunctionsSql(s: string): string[] {
  const limits = `${s}.chrono_forge_limits`;
  const [wake, acquire, release] = limitFunctionsSql(s);
  const replace = (sql: string) => sql.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
  let w = replace(wake);
  w = patch(
    w,
    'ORDER BY q.priority, q.id LIMIT avail',
    'ORDER BY q.priority, coalesce(q.ord, q.id) LIMIT avail',
  );
  let a = replace(acquire);
  a = patch(
    a,
    'SELECT q.id, q.state, q.queued_at INTO my_id',
    'SELECT coalesce(q.ord, q.id), q.state, q.queued_at INTO my_id',
  );
  a = patch(
    a,
    'AND (q.priority, q.id) < (p_priority, coalesce(my_id, 9223372036854775807));',
    `AND (q.priority, coalesce(q.ord, q.id)) < (p_priority, coalesce(my_id,
              CASE WHEN cfg->>'ordered' = 'true' THEN p_run ELSE 9223372036854775807 END));`,
  );
  a = patch(
    a,
    /INSERT INTO (\S+) AS q \(name, key, run_id, holder, state, owner, priority\)\s+VALUES \(p_names\[i\], p_keys\[i\], p_run, p_holder, 'waiting', p_owner, p_priority\)/,
    `INSERT INTO $1 AS q (name, key, run_id, holder, state, owner, priority, ord)
            VALUES (p_names[i], p_keys[i], p_run, p_holder, 'waiting', p_owner, p_priority,
              (SELECT CASE WHEN coalesce(l.override, l.declared)->>'ordered' = 'true' THEN p_run END
                 FROM ${limits} l WHERE l.name = p_names[i]))`,
  );
  let r = replace(release);
  r = patch(
    r,
    "(q.state = 'held' AND (p_mode = 'pass' OR q.holder = ANY (p_holders)))",
    `(q.state = 'held' AND ((p_mode = 'pass' AND q.holder <> ${SINGLETON_HOLDER_SQL})
        OR q.holder = ANY (p_holders)))`,
  );
  return [w, a, r];
}

import type { StoredLimit } from '../options/limit-options.js';
import type { LimitTables } from './limit.sql.js';

/** The engine's lock limits (`ctx.withLock`): a semaphore of 1 per key, ordered or not. */
export const LOCK_LIMIT = '$lock';
export const ORDERED_LOCK_LIMIT = '$lock$ordered';
/** The `chrono_forge_limit_keys` name of `ctx.once` periods (`recent[1]`: the last claim). */
export const ONCE_NAME = '$once';

/** Limits every process declares (names starting with `$` are the engine's). */
export const ENGINE_LIMITS: ReadonlyMap<string, StoredLimit> = new Map<string, StoredLimit>([
  [LOCK_LIMIT, { concurrency: 1 }],
  [ORDERED_LOCK_LIMIT, { concurrency: 1, ordered: true }],
]);

/** A step-name segment made of a lock or once key (`$` and `#` are the engine's delimiters). */
export function keySegment(key: string): string {
  return key.replace(/[$#]/g, '_').slice(0, 180) || '_';
}

/**
 * `ctx.once` claim, in one fenced statement (`$1` run, `$2` owner, `$3` key, `$4` period in ms,
 * `$5` log name, `$6` the stored result of a skipped call): takes the key's period when its last
 * claim is at least `$4` old (the key's row lock serializes claimers across runs), and records the
 * outcome as the call's log: `pending` (this run owns the period: its `fn` runs) or `completed`
 * with metadata `{ once: 'skipped' }`. No row: the pass lost the run.
 */
export function onceClaimSql(t: LimitTables, wf: string, logs: string): string {
  return `WITH f AS (SELECT id FROM ${wf} WHERE id = $1 AND locked_by = $2 FOR SHARE),
     c AS (INSERT INTO ${t.keys} AS k (name, key, recent)
         SELECT '${ONCE_NAME}', $3, ARRAY[clock_timestamp()] FROM f
         ON CONFLICT (name, key) DO UPDATE SET recent = ARRAY[clock_timestamp()]
         WHERE k.recent[1] IS NULL
           OR k.recent[1] <= clock_timestamp() - $4::bigint * interval '1 millisecond'
         RETURNING 1),
     l AS (INSERT INTO ${logs} (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       SELECT $1, $5, CASE WHEN EXISTS (SELECT 1 FROM c) THEN 'pending' ELSE 'completed' END, 1,
         now(), now(), CASE WHEN EXISTS (SELECT 1 FROM c) THEN NULL ELSE now() END,
         CASE WHEN EXISTS (SELECT 1 FROM c) THEN NULL ELSE $6::jsonb END,
         CASE WHEN EXISTS (SELECT 1 FROM c) THEN '{"once":"ran"}'::jsonb
           ELSE '{"once":"skipped"}'::jsonb END
       FROM f RETURNING id::text AS id, state, result, metadata)
   SELECT * FROM l`;
}

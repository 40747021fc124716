import { SLEEP_RESULT } from './acquire.sql.js';
import type { LogRow, RunRow } from './rows.js';

/** Outcome of trying to take a run's lock. */
export type AcquireResult =
  | {
      kind: 'acquired';
      run: RunRow;
      logs: LogRow[];
      /** Due plain sleeps the acquire completed (see {@link WakeEligibility}). */
      woken: WokenSleep[];
    }
  | { kind: 'busy' }
  | { kind: 'not-due' }
  | { kind: 'not-executable' };

/**
 * A sleep the acquire completed: its log id, its new attempts, and the timestamps it had before
 * (as PostgreSQL's text, exact), to put it back if the replay does not reach it.
 */
export interface WokenSleep {
  id: string;
  attempts: number;
  lastExecutedAt: string;
  updatedAt: string;
}

/**
 * The workflows whose due sleeps the acquire may complete, as JSON: workflow name → the version
 * this worker has (`null`: none). A run qualifies when this worker serves it (its version is
 * `null` or that one) and replays it as is: its workflow has no run-level limits (which may park
 * the pass before the method runs) and no pass interceptors (which may refuse the pass).
 */
export type WakeEligibility = string;

/** A row an acquire statement returns: the run, its logs, the sleeps it completed, `prev_owner`. */
export type AcquiredRow = RunRow & {
  logs: LogRow[];
  woken?: WokenSleep[] | null;
  /** The lock's holder as the statement's snapshot saw it (see `acquireStatements`). */
  prev_owner: string | null;
};

/**
 * The outcome of an acquire that took the lock as `owner`. Taken over from another pass, the logs
 * are read again (`relog`): that pass's last checkpoint may have committed while the statement
 * waited for the run's row, after the statement's snapshot (its own read misses it); a read after
 * the acquire committed sees it, and any later write of that pass is fenced out. (Rare: the lock
 * of a crashed or stalled pass.) Otherwise the sleeps the statement completed show as it stored
 * them (its own read predates them). `own`: the statement took back a lock this pass held (its
 * own earlier acquire committed), then read with a snapshot newer than any write it fenced out.
 * `reread`: read them again in any case (an acquire without the version guard, see `takeLock`).
 */
export async function acquired(
  row: AcquiredRow,
  owner: string,
  own: boolean,
  relog: () => Promise<LogRow[]>,
  reread = false,
): Promise<AcquireResult> {
  const { logs, woken, prev_owner: prev, ...run } = row;
  if (reread || (prev !== null && !(own && prev === owner)))
    return { kind: 'acquired', run, logs: await relog(), woken: woken ?? [] };
  if (!woken) return { kind: 'acquired', run, logs, woken: [] };
  const completed = new Map(woken.map((w) => [w.id, w.attempts]));
  const read = logs.map((l) => {
    const attempts = completed.get(l.id);
    if (attempts === undefined) return l;
    return { ...l, state: 'completed' as const, attempts, result: SLEEP_RESULT };
  });
  return { kind: 'acquired', run, logs: read, woken };
}

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

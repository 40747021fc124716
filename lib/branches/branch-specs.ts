import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { NotInBranchError } from '../errors/not-in-branch.error.js';
import { type BranchFrame, branchStorage } from '../run/call-storage.js';
import { type Duration, toMs } from '../util/duration.util.js';
import { assertUserName } from '../util/names.util.js';

/** A child run to spawn. @publicApi */
export interface SpawnSpec<I = unknown> {
  /** Registered workflow name of the child. */
  workflow: string;
  input?: I;
  /**
   * Key suffix; the child key is `<parentKey>$<parentWorkflow>$<branch>$<key>`.
   * @default the spawn name
   */
  key?: string;
}

/** Options of `ctx.merge()`. @publicApi */
export interface MergeOptions {
  /** Shortest delay between two polls of the children. @default '5s' */
  minInterval?: Duration;
  /** Longest delay between two polls. @default '5m' */
  maxInterval?: Duration;
  /**
   * `failFast`: the merge throws `ChildWorkflowFailedError` at the first child that failed, was
   * cancelled or rolled back. `collect`: the merge waits until every child ended (completed,
   * failed, cancelled or compensated) and returns them all. Unset: it waits until every child
   * completed (a failed child keeps it waiting for a retry; a cancelled one throws
   * `CancelledChildError`, one that failed and rolled back throws `ChildWorkflowFailedError` with
   * `childState` `compensated`).
   */
  mode?: MergeMode;
}

/** How a merge treats failed children. @publicApi */
export type MergeMode = 'failFast' | 'collect';

/** Branch-log metadata field holding the key prefix of the branch's children. */
export const KEY_PREFIX = 'child_key_prefix';

/**
 * Key prefix of the children of branch `name` in `run`: `<parentKey>$<parentWorkflow>$<branch>$`.
 * A run is unique by (workflow, key), so two workflows started with the same key never share a
 * child, and the keys stay predictable (the same for every run of that workflow and key).
 */
export function childKeyPrefix(run: { job_name: string; key: string }, name: string): string {
  return `${run.key}$${run.job_name}$${name}$`;
}

/** A checked `merge(...names, options)`: its branches (sorted, once each), step name and poll bounds. */
export interface ParsedMerge {
  unique: string[];
  stepName: string;
  minMs: number;
  maxMs: number;
  mode: MergeMode | undefined;
}

/** Checks the branch names and poll intervals of a merge (`merge$<sorted names>`). */
export function parseMerge(names: string[], options: MergeOptions): ParsedMerge {
  if (names.length === 0) throw new InvalidOptionsError('merge needs at least one branch name.');
  for (const n of names) {
    assertUserName(n, 'Branch');
    if (n.includes(','))
      throw new InvalidOptionsError(`Branch name "${n}" contains ",", the merge separator.`);
  }
  const minMs = toMs(options.minInterval ?? '5s', 'merge minInterval');
  const maxMs = toMs(options.maxInterval ?? '5m', 'merge maxInterval');
  if (minMs > maxMs)
    throw new InvalidOptionsError(
      `merge minInterval (${minMs} ms) exceeds maxInterval (${maxMs} ms).`,
    );
  const mode = options.mode;
  if (mode !== undefined && mode !== 'failFast' && mode !== 'collect')
    throw new InvalidOptionsError(
      `merge mode must be 'failFast' or 'collect', got ${JSON.stringify(mode)}.`,
    );
  const unique = [...new Set(names)].sort();
  const stepName = `merge$${unique.join(',')}`;
  return { unique, stepName, minMs, maxMs, mode };
}

/** The branch a `spawn`/`spawnEach` named `name` runs in; `NotInBranchError` outside one. */
export function spawnFrame(name: string): BranchFrame {
  const frame = branchStorage.getStore();
  if (!frame)
    throw new NotInBranchError(
      `spawn/spawnEach("${name}") may only be called inside a @Branch() method.`,
    );
  assertUserName(name, 'Spawn');
  return frame;
}

/** Child counts a merge decides on (summed over its branches). */
export interface MergeCounts {
  pending: number;
  cancelled: number;
  /** Failed children, `compensated` ones included. */
  failed: number;
  /** Children that failed and rolled back (also counted in `failed`). */
  compensated: number;
  unfinished: number;
}

/** What a sealed merge does next (see {@link mergeState}). */
export type MergeState = 'done' | 'fail' | 'cancelled' | 'compensated' | 'wait';

/**
 * Whether a sealed merge is done (`done`), must fail (`fail`: failFast saw a failure; in the
 * default mode, `cancelled`: a child was cancelled, `compensated`: one failed and rolled back —
 * neither ever completes, and `client.retry` does not run a rolled-back run forward) or waits.
 */
export function mergeState(mode: MergeMode | undefined, c: MergeCounts): MergeState {
  if (mode === 'collect') return c.unfinished === 0 ? 'done' : 'wait';
  if (mode === 'failFast') {
    if (c.failed + c.cancelled > 0) return 'fail';
    return c.pending === 0 ? 'done' : 'wait';
  }
  if (c.cancelled > 0) return 'cancelled';
  if (c.compensated > 0) return 'compensated';
  return c.pending === 0 ? 'done' : 'wait';
}

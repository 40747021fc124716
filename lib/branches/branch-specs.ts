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
}

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
  const unique = [...new Set(names)].sort();
  const stepName = `merge$${unique.join(',')}`;
  return { unique, stepName, minMs, maxMs };
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

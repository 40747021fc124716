import type { LogRow } from '../persistence/rows.js';

/** Prefix of a patch marker in a run's history (`ctx.patched(id)` → `patch$<id>`). */
export const PATCH_PREFIX = 'patch$';

/** Step name of a branch's log (`branch$<name>`), the prefix of its body's history entries. */
const BRANCH_PREFIX = 'branch$';

/** Separates a branch from a call of its body in a history entry (`branch$notify>step$load`). */
const IN_BRANCH = '>';

/**
 * How a durable call was started, which decides how strictly its position is checked:
 * - `sequential`: no other durable call of the pass was in flight; its position is the code's.
 * - `parallel`: other calls were in flight, but none settled since the last sequential call (the
 *   calls of one `Promise.all([...])`): their order is the code's too.
 * - `racing`: started after a call settled while others were in flight (a chain in a
 *   `Promise.all`): its position depends on which result came first.
 */
export type CallOrder = 'sequential' | 'parallel' | 'racing';

/** The history entry of durable call `name` made in the body of the branch logged as `branch`. */
export function branchEntry(branch: string, name: string): string {
  return `${branch}${IN_BRANCH}${name}`;
}

/**
 * The branch log (`branch$<name>`) whose body made the call of history entry `entry`, or
 * `undefined` for a call of the workflow method. A branch name cannot contain `$`, so the call
 * starts at the last `>` before the entry's second `$`.
 */
export function branchOf(entry: string): string | undefined {
  if (!entry.startsWith(BRANCH_PREFIX)) return undefined;
  const second = entry.indexOf('$', BRANCH_PREFIX.length);
  if (second < 0) return undefined;
  const cut = entry.lastIndexOf(IN_BRANCH, second);
  return cut < BRANCH_PREFIX.length ? undefined : entry.slice(0, cut);
}

/** The step log name of history entry `entry` (a branch body's call without its branch). */
export function callOf(entry: string): string {
  const branch = branchOf(entry);
  return branch === undefined ? entry : entry.slice(branch.length + IN_BRANCH.length);
}

/** Whether the call of history entry `entry` is recorded: a patch marker, or a call with a log. */
export function isRecorded(entry: string, logs: ReadonlyMap<string, LogRow>): boolean {
  return entry.startsWith(PATCH_PREFIX) || logs.has(callOf(entry));
}

/**
 * A stored history without the entries of branch bodies that sealed (a sealed branch's body does
 * not run again, so its calls are not made again). The same array when there is none.
 */
export function withoutSealedBodies(
  history: ReadonlyArray<string | null>,
  logs: ReadonlyMap<string, LogRow>,
): ReadonlyArray<string | null> {
  const inSealed = (e: string | null) => {
    const branch = e === null ? undefined : branchOf(e);
    return branch !== undefined && logs.get(branch)?.state === 'completed';
  };
  return history.some(inSealed) ? history.filter((e) => !inSealed(e)) : history;
}

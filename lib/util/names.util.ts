import { ReservedNameError } from '../errors/reserved-name.error.js';
import { describeValue } from './describe.util.js';
import { unstorableText } from './serialization.util.js';

/** The delimiter ChronoForge uses in its own step names (`step$<name>`, `wait$<name>`, …). */
export const STEP_NAME_DELIMITER = '$';

/**
 * Validates a user-supplied name segment (workflow, step, signal, branch): non-empty, at most
 * 200 characters, free of the reserved `$` delimiter and `#` occurrence marker, and storable in
 * PostgreSQL (no NUL character, no lone UTF-16 surrogate).
 */
export function assertUserName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ReservedNameError(
      `${what} name must be a non-empty string, got ${describeValue(name)}.`,
    );
  }
  if (name.length > 200) {
    throw new ReservedNameError(
      `${what} name "${name.slice(0, 40)}…" is longer than 200 characters.`,
    );
  }
  const why = unstorableText(name);
  if (why) throw new ReservedNameError(`${what} name ${describeValue(name)} ${why}.`);
  if (name.includes('#')) {
    throw new ReservedNameError(
      `${what} name "${name}" contains "#", which ChronoForge reserves for occurrence suffixes (step#2). Rename it.`,
    );
  }
  if (name.includes(STEP_NAME_DELIMITER)) {
    throw new ReservedNameError(
      `${what} name "${name}" contains "$", which ChronoForge reserves as its step-name delimiter. Rename it.`,
    );
  }
}

/** Step name of the n-th (1-based) call of `base` in one run: `base`, `base#2`, `base#3`, … */
export function occurrenceName(base: string, n: number): string {
  return n <= 1 ? base : `${base}#${n}`;
}

/**
 * A step name without its occurrence suffix (`step$item#3` → `step$item`): the n-th call of a step
 * is the same step for metrics, whose label values must stay bounded however often a run loops.
 */
export function withoutOccurrence(stepName: string): string {
  const at = stepName.indexOf('#');
  return at < 0 ? stepName : stepName.slice(0, at);
}

import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import { codeOf, controlCharOf, escapeControlChars } from '../util/control-chars.util.js';
import { unstorableText } from '../util/serialization.util.js';

/** Longest accepted run key. */
export const MAX_KEY_LENGTH = 512;

/** Longest workflow name (as `@Workflow` names are checked). */
export const MAX_WORKFLOW_NAME_LENGTH = 200;

/**
 * Checks a run key: a non-empty string of at most {@link MAX_KEY_LENGTH} characters that
 * PostgreSQL can store as given (no NUL character, no lone UTF-16 surrogate).
 */
export function assertRunKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new InvalidOptionsError(
      `A run key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${describeValue(key)}.`,
    );
  }
  const why = unstorableText(key);
  if (why) throw new InvalidOptionsError(`Run key ${describeValue(key)} ${why}.`);
}

/**
 * Checks the key of a new run (`start`, `spawn`, `spawnEach`): a valid run key (see
 * {@link assertRunKey}) without control characters (C0, DEL, C1, line and paragraph separators)
 * or bidirectional marks and overrides, which would let a key rewrite a terminal line or disguise
 * itself in the dashboard. Keys are looked up as given, so runs created before this check stay
 * reachable.
 */
export function assertNewRunKey(key: unknown): asserts key is string {
  assertRunKey(key);
  const char = controlCharOf(key);
  if (char !== undefined) {
    throw new InvalidOptionsError(
      `Run key ${escapeControlChars(describeValue(key))} contains the control or bidi character ${codeOf(char)}; ` +
        'a run key is printable text.',
    );
  }
}

/**
 * Checks an optional string filter or selector field (`workflow`, `keyPrefix`): storable text of
 * at most `max` characters.
 */
export function assertOptionalText(
  value: unknown,
  what: string,
  max = MAX_KEY_LENGTH,
): asserts value is string | undefined {
  if (value === undefined) return;
  if (typeof value !== 'string') {
    throw new InvalidOptionsError(`${what} must be a string, got ${describeValue(value)}.`);
  }
  if (value.length > max)
    throw new InvalidOptionsError(`${what} is longer than ${max} characters (${value.length}).`);
  const why = unstorableText(value);
  if (why) throw new InvalidOptionsError(`${what} ${describeValue(value)} ${why}.`);
}

/** Checks the options object of a client call (`{ workflow }`, `{ workflow, manager }`). */
export function assertSelector(selector: unknown, call: string): void {
  if (selector === null || typeof selector !== 'object') {
    throw new InvalidOptionsError(
      `${call}() options must be an object such as { workflow: 'orders.fulfil' }, got ${describeValue(selector)}.`,
    );
  }
  assertOptionalText((selector as { workflow?: unknown }).workflow, `${call}() workflow`);
}

import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { controlCharOf } from '../util/control-chars.util.js';
import { describeValue } from '../util/describe.util.js';
import { toMs } from '../util/duration.util.js';
import type {
  LimitDefinition,
  RateWindow,
  StepLimit,
  WorkflowConcurrency,
  WorkflowRate,
} from './limit-options.interface.js';

/** A limit as stored in `chrono_forge_limits` (`declared` / `override`). */
export interface StoredLimit {
  concurrency?: number;
  /** `guard_ms`: see {@link rateGuardMs}. */
  rate?: Array<{ limit: number; per_ms: number; guard_ms: number }>;
  /** Waiters queue by run start order instead of arrival (the engine's ordered locks). */
  ordered?: true;
}

/** Longest limit name and key. */
export const MAX_LIMIT_NAME_LENGTH = 200;
export const MAX_LIMIT_KEY_LENGTH = 500;
const MAX_CONCURRENCY = 1_000_000;
/** A rate window keeps this many grant times at most (`recent` array). */
const MAX_RATE_LIMIT = 10_000;
const MAX_WINDOW_MS = 366 * 24 * 3_600_000;

function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

function intIn(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(`${what} must be an integer from ${min} to ${max}, got ${describeValue(value)}.`);
  return value;
}

/** Checks a limit name (or key): a non-empty string of printable characters, bounded. */
export function assertLimitText(value: unknown, what: string, max: number, empty = false): string {
  if (typeof value !== 'string' || (!empty && value === '') || value.length > max)
    fail(
      `${what} must be a ${empty ? '' : 'non-empty '}string of at most ${max} characters, got ${describeValue(value)}.`,
    );
  const bad = controlCharOf(value);
  if (bad !== undefined) fail(`${what} ${describeValue(value)} contains a control character.`);
  return value;
}

/**
 * The margin a rate window adds to itself: 5 % of the window, at most 100 ms. A grant is decided in
 * PostgreSQL and its body starts a few milliseconds later, a delay that varies with the load of the
 * worker; without a margin an earlier body that started late and a later one that started at once
 * could fall within one window. The cost is at most 5 % of the nominal rate.
 */
export function rateGuardMs(perMs: number): number {
  return Math.min(100, Math.round(perMs * 0.05));
}

/** Validates a {@link LimitDefinition} and converts it to its stored form. */
export function toStoredLimit(name: string, def: unknown): StoredLimit {
  const what = `Limit "${name}"`;
  if (!def || typeof def !== 'object' || Array.isArray(def))
    fail(`${what} must be { concurrency?, rate? }, got ${describeValue(def)}.`);
  const { concurrency, rate, ...rest } = def as LimitDefinition;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    fail(`${what} has unknown option(s) ${unknown.join(', ')}; use concurrency and/or rate.`);
  if (concurrency === undefined && rate === undefined)
    fail(`${what} needs concurrency, rate, or both.`);
  const out: StoredLimit = {};
  if (concurrency !== undefined)
    out.concurrency = intIn(concurrency, 1, MAX_CONCURRENCY, `${what}: concurrency`);
  if (rate !== undefined) {
    const windows = (Array.isArray(rate) ? rate : [rate]) as unknown[];
    if (windows.length === 0 || windows.length > 10)
      fail(`${what}: rate must be one window or 1 to 10 windows, got ${describeValue(rate)}.`);
    out.rate = windows.map((w, i) => {
      const at = `${what}: rate window ${i + 1}`;
      if (!w || typeof w !== 'object')
        fail(`${at} must be { limit, per }, got ${describeValue(w)}.`);
      const { limit, per } = w as RateWindow;
      const perMs = toMs(per, `${at}: per`);
      if (perMs < 1 || perMs > MAX_WINDOW_MS)
        fail(`${at}: per must be from 1 ms to 366 days, got ${describeValue(per)}.`);
      const max = intIn(limit, 1, MAX_RATE_LIMIT, `${at}: limit`);
      return { limit: max, per_ms: perMs, guard_ms: rateGuardMs(perMs) };
    });
  }
  return out;
}

/** Validates every limit of `forRoot({ limits })`; returns their stored forms by name. */
export function toStoredLimits(limits: unknown): Map<string, StoredLimit> {
  const out = new Map<string, StoredLimit>();
  if (limits === undefined) return out;
  if (!limits || typeof limits !== 'object' || Array.isArray(limits))
    fail(`\`limits\` must be an object of named limits, got ${describeValue(limits)}.`);
  for (const [name, def] of Object.entries(limits)) {
    assertLimitText(name, 'A limit name', MAX_LIMIT_NAME_LENGTH);
    out.set(name, toStoredLimit(name, def));
  }
  return out;
}

/** The public form of a stored limit (`per` in milliseconds). */
export function fromStoredLimit(stored: StoredLimit | null): LimitDefinition | null {
  if (!stored) return null;
  const def: LimitDefinition = {};
  if (stored.concurrency !== undefined) def.concurrency = stored.concurrency;
  if (stored.rate) def.rate = stored.rate.map((w) => ({ limit: w.limit, per: w.per_ms }));
  return def;
}

/** One (limit, key) a holder asks for. */
export interface LimitClaim {
  name: string;
  key: string;
}

/** A run-level limit of a workflow: its runtime name, definition and key function. */
export interface RunLimit {
  name: string;
  stored: StoredLimit;
  key?: (input: never) => string | number;
}

/** The run-level limits of a workflow (`@Workflow({ concurrency, rate, singleton })`). */
export interface RunLimits {
  concurrency?: RunLimit;
  rate?: RunLimit;
  /** `singleton: { mode: 'queue' }`: one slot per key, held for the run's life. */
  singleton?: RunLimit;
}

/** Validates a step's `limit` option (at discovery for decorators, at the call for `ctx.step`). */
export function toStepLimits(option: unknown, where: string): StepLimit[] {
  const list = (Array.isArray(option) ? option : [option]) as unknown[];
  if (list.length === 0 || list.length > 10)
    fail(`The limit option of ${where} must name 1 to 10 limits, got ${describeValue(option)}.`);
  return list.map((item) => {
    const ref = typeof item === 'string' ? { name: item } : (item as StepLimit);
    if (!ref || typeof ref !== 'object')
      fail(`A limit of ${where} must be a name or { name, key? }, got ${describeValue(item)}.`);
    assertLimitText(ref.name, `A limit name of ${where}`, MAX_LIMIT_NAME_LENGTH);
    const { key } = ref;
    if (key !== undefined && typeof key !== 'function')
      assertLimitText(key, `The key of limit "${ref.name}" (${where})`, MAX_LIMIT_KEY_LENGTH, true);
    return ref;
  });
}

/** A key as a limit stores it: the key function's result (with `args`) or the given text. */
export function limitKey(
  key: string | ((...args: never[]) => string | number) | undefined,
  args: readonly unknown[],
  what: string,
): string {
  const value = typeof key === 'function' ? (key as (...a: unknown[]) => unknown)(...args) : key;
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : (value ?? '');
  return assertLimitText(text, `The key of ${what}`, MAX_LIMIT_KEY_LENGTH, true);
}

/** The claims of a step's limits, keys computed from the call's arguments. */
export function stepClaims(limits: readonly StepLimit[], args: readonly unknown[]): LimitClaim[] {
  return limits.map((l) => ({ name: l.name, key: limitKey(l.key, args, `limit "${l.name}"`) }));
}

/** Validates `@Workflow({ concurrency, rate })` of workflow `name` (at discovery). */
export function toRunLimits(
  name: string,
  options: { concurrency?: WorkflowConcurrency; rate?: WorkflowRate },
  where: string,
): RunLimits | undefined {
  const out: RunLimits = {};
  const checkKey = (key: unknown, what: string) => {
    if (key !== undefined && typeof key !== 'function')
      fail(`${what} of ${where} must be a function of the input, got ${describeValue(key)}.`);
  };
  if (options.concurrency !== undefined) {
    const { limit, key } = options.concurrency ?? {};
    checkKey(key, 'concurrency.key');
    const limitName = `workflow:${name}:concurrency`;
    out.concurrency = {
      name: limitName,
      stored: toStoredLimit(limitName, { concurrency: limit }),
      key,
    };
  }
  if (options.rate !== undefined) {
    const { limit, per, key } = options.rate ?? {};
    checkKey(key, 'rate.key');
    const limitName = `workflow:${name}:rate`;
    out.rate = { name: limitName, stored: toStoredLimit(limitName, { rate: { limit, per } }), key };
  }
  return out.concurrency || out.rate ? out : undefined;
}

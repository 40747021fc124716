import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { controlCharOf } from '../util/control-chars.util.js';
import { describeValue } from '../util/describe.util.js';
import { toMs } from '../util/duration.util.js';
import type { LimitDefinition, RateWindow } from './limit-options.interface.js';

/** A limit as stored in `chrono_forge_limits` (`declared` / `override`). */
export interface StoredLimit {
  concurrency?: number;
  rate?: Array<{ limit: number; per_ms: number }>;
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
      return { limit: intIn(limit, 1, MAX_RATE_LIMIT, `${at}: limit`), per_ms: perMs };
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

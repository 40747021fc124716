import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { type Duration, toMs } from '../util/duration.util.js';
import { describeValue } from '../util/describe.util.js';

/** An error class a policy retries (subclasses match too). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/**
 * Options of a {@link RetryPolicy}.
 *
 * @publicApi
 */
export interface RetryPolicyOptions {
  /** Total attempts including the first; `null` retries forever. @default 3 */
  maxAttempts?: number | null;
  /** Delay before the first retry. @default '1s' */
  base?: Duration;
  /** Upper bound of a single delay. @default '30s' */
  cap?: Duration;
  /** Equal jitter: a delay `d` becomes `d/2 + random(0..d/2)`. @default true */
  jitter?: boolean;
  /** Error classes to retry; omitted retries every error, `[]` retries none. */
  retryOn?: readonly ErrorClass[];
}

/** Per-error-class attempt counters of a composite policy (`metadata.retry_counts`). */
export type RetryCounts = Record<string, number>;

/** What a policy decided after a failed attempt. */
export interface RetryDecision {
  /** Milliseconds to wait before the next attempt. */
  delayMs: number;
}

/**
 * Anything that can decide whether a failed attempt is retried: a {@link RetryPolicy} or the
 * result of {@link RetryPolicy.compose}.
 *
 * @publicApi
 */
export interface RetryStrategy {
  /** The largest attempt budget, `null` when unbounded. */
  readonly maxAttempts: number | null;
  /**
   * Decides on a failure. `attempts` is the 1-based number of attempts made so far, including the
   * one that just failed. Composite strategies count in `counts` (mutated) instead.
   */
  decide(
    error: unknown,
    attempts: number,
    counts: RetryCounts,
    random?: () => number,
  ): RetryDecision | null;
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionsError(
      `${what} must be a positive integer, got ${describeValue(value)}.`,
    );
  }
  return value;
}

/**
 * Exponential backoff with equal jitter: `min(cap, base·2^(attempt−1))`.
 *
 * @example new RetryPolicy({ maxAttempts: 5, base: '500ms', cap: '1m', retryOn: [HttpError] })
 * @publicApi
 */
export class RetryPolicy implements RetryStrategy {
  readonly maxAttempts: number | null;
  readonly baseMs: number;
  readonly capMs: number;
  readonly jitter: boolean;
  readonly retryOn: readonly ErrorClass[] | undefined;

  constructor(options: RetryPolicyOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionsError('RetryPolicy options must be an object.');
    }
    this.maxAttempts =
      options.maxAttempts === null
        ? null
        : positiveInt(options.maxAttempts ?? 3, 'RetryPolicy maxAttempts');
    this.baseMs = toMs(options.base ?? '1s', 'RetryPolicy base');
    this.capMs = toMs(options.cap ?? '30s', 'RetryPolicy cap');
    if (this.capMs < this.baseMs) {
      throw new InvalidOptionsError(
        `RetryPolicy cap (${this.capMs} ms) is below base (${this.baseMs} ms).`,
      );
    }
    this.jitter = options.jitter ?? true;
    if (options.retryOn !== undefined) {
      if (!Array.isArray(options.retryOn) || options.retryOn.some((c) => typeof c !== 'function')) {
        throw new InvalidOptionsError('RetryPolicy retryOn must be an array of error classes.');
      }
    }
    this.retryOn = options.retryOn;
  }

  /** Step preset: 3 attempts, 1 s base, 30 s cap. */
  static stepDefault(): RetryPolicy {
    return new RetryPolicy({ maxAttempts: 3, base: '1s', cap: '30s' });
  }

  /** Workflow preset: 10 attempts, 1 s base, 10 min cap. */
  static workflowDefault(): RetryPolicy {
    return new RetryPolicy({ maxAttempts: 10, base: '1s', cap: '10m' });
  }

  /** Wait-condition preset: errors thrown by a condition are not retried unless listed. */
  static waitDefault(): RetryPolicy {
    return new RetryPolicy({ maxAttempts: null, base: '1s', cap: '30s', retryOn: [] });
  }

  /**
   * Combines policies: the first whose `retryOn` matches the error decides, and each keeps its own
   * attempt budget (persisted per error class in the step log's `metadata.retry_counts`).
   */
  static compose(...policies: RetryPolicy[]): CompositeRetryPolicy {
    return new CompositeRetryPolicy(policies);
  }

  /** Key under which a composite counts this policy's attempts. */
  get budgetKey(): string {
    if (this.retryOn === undefined) return '*';
    return this.retryOn
      .map((c) => c.name)
      .sort()
      .join(',');
  }

  /** Whether this policy applies to the error at all. */
  matches(error: unknown): boolean {
    if (this.retryOn === undefined) return true;
    return this.retryOn.some((cls) => error instanceof cls);
  }

  /** Whether a failure after `attempts` attempts is retried. */
  retryable(error: unknown, attempts: number): boolean {
    return (this.maxAttempts === null || attempts < this.maxAttempts) && this.matches(error);
  }

  /** Delay in ms before attempt `attempts + 1`. */
  backoffFor(attempts: number, random: () => number = Math.random): number {
    const exp = Math.max(attempts - 1, 0);
    const raw = Math.min(this.capMs, this.baseMs * 2 ** Math.min(exp, 52));
    if (!this.jitter) return raw;
    const half = raw / 2;
    return Math.round(half + random() * half);
  }

  decide(
    error: unknown,
    attempts: number,
    _counts?: RetryCounts,
    random?: () => number,
  ): RetryDecision | null {
    return this.retryable(error, attempts) ? { delayMs: this.backoffFor(attempts, random) } : null;
  }
}

/**
 * Result of {@link RetryPolicy.compose}.
 *
 * @publicApi
 */
export class CompositeRetryPolicy implements RetryStrategy {
  readonly maxAttempts: number | null;

  constructor(readonly policies: readonly RetryPolicy[]) {
    if (policies.length === 0) {
      throw new InvalidOptionsError('RetryPolicy.compose needs at least one policy.');
    }
    if (policies.some((p) => !(p instanceof RetryPolicy))) {
      throw new InvalidOptionsError('RetryPolicy.compose only accepts RetryPolicy instances.');
    }
    this.maxAttempts = policies.some((p) => p.maxAttempts === null)
      ? null
      : Math.max(...policies.map((p) => p.maxAttempts as number));
  }

  decide(
    error: unknown,
    _attempts: number,
    counts: RetryCounts,
    random?: () => number,
  ): RetryDecision | null {
    const policy = this.policies.find((p) => p.matches(error));
    if (!policy) return null;
    const key = policy.budgetKey;
    const count = (counts[key] ?? 0) + 1;
    counts[key] = count;
    return policy.decide(error, count, counts, random);
  }
}

/** Accepts a strategy or an array of policies (composed). */
export type RetryOption = RetryStrategy | RetryPolicy[];

/** Normalizes a {@link RetryOption}; `undefined` stays `undefined`. */
export function toRetryStrategy(
  option: RetryOption | undefined,
  what: string,
): RetryStrategy | undefined {
  if (option === undefined) return undefined;
  if (Array.isArray(option)) return RetryPolicy.compose(...option);
  if (option && typeof (option as RetryStrategy).decide === 'function') return option;
  throw new InvalidOptionsError(
    `${what} must be a RetryPolicy, a composite policy or an array of policies.`,
  );
}

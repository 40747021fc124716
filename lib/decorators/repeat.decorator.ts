import { SetMetadata } from '@nestjs/common';
import { REPEAT_METADATA } from '../options/chrono-forge.constants.js';
import type { RetryOption } from '../retry/retry-policy.js';
import type { RepeatEvery } from '../definitions/repeat-schedule.js';
import type { Duration } from '../util/duration.util.js';

/**
 * Options of `@Repeat()`.
 *
 * @publicApi
 */
export interface RepeatOptions {
  /** Step name segment. @default the method name */
  name?: string;
  /**
   * Stop condition, checked before every tick: the name of a method on the same provider, or a
   * function; both receive the arguments the repeat was called with.
   */
  till?: string | ((...args: never[]) => unknown);
  /** First scheduled tick. @default first reach of the repeat + one interval */
  startAt?: Date;
  /** A tick later than this past its schedule is skipped (missed ticks are fast-forwarded). @default '1h' */
  timeout?: Duration;
  /** Retry policy of one tick. @default the step default (3 attempts) */
  retry?: RetryOption;
  /** After a tick exhausts its retries: `'continue'` with the next tick, or `'fail'` (stall the run). @default 'continue' */
  onError?: 'continue' | 'fail';
  /** Time zone of calendar intervals (whole days, months, …). @default 'UTC' */
  timeZone?: string;
}

/** Metadata stored by `@Repeat()`. */
export interface RepeatMetadata extends RepeatOptions {
  every: RepeatEvery;
}

/**
 * Makes a provider method a durable periodic task (chrono_forge's `durably_repeat`). Called inside
 * a workflow, it runs on the grid `startAt + k·every` until `till` holds; each tick is the step
 * `durably_repeat$<name>$<epoch-ms>` and the method receives the tick's scheduled time as its last
 * argument. Outside a workflow it is a plain call.
 *
 * @example
 * ```ts
 * @Repeat('1d', { till: 'isDelivered', timeout: '1h' })
 * async remind(input: OrderInput, scheduledAt: Date) { ... }
 * ```
 * @publicApi
 */
export function Repeat(every: RepeatEvery, options: RepeatOptions = {}): MethodDecorator {
  return SetMetadata(REPEAT_METADATA, { ...options, every } satisfies RepeatMetadata);
}

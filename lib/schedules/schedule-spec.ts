import { InvalidCronError } from '../errors/invalid-cron.error.js';
import { describeValue } from '../util/describe.util.js';
import { toMs } from '../util/duration.util.js';
import { assertUserName } from '../util/names.util.js';
import { jsonByteSize } from '../util/serialization.util.js';
import { CronSpec } from './cron-spec.js';
import type { CreateScheduleOptions, ScheduleInfo, ScheduleOverlap } from './schedule.interface.js';

/** Overlap policies, in the order the docs list them. */
export const OVERLAP_MODES: readonly ScheduleOverlap[] = [
  'skip',
  'bufferOne',
  'allow',
  'cancelPrevious',
];

/** Default catch-up window. */
export const DEFAULT_CATCHUP_WINDOW_MS = 3_600_000;
/** Shortest catch-up window: a tick is fired a few milliseconds after its time at best. */
export const MIN_CATCHUP_WINDOW_MS = 1_000;
/** Largest schedule input, encoded. */
export const MAX_SCHEDULE_INPUT_BYTES = 64 * 1024;

/** A schedule's definition as stored: what `create`, `update` and `@Scheduled` set. */
export type ScheduleSpec = Pick<
  ScheduleInfo,
  'workflow' | 'cron' | 'timeZone' | 'input' | 'overlap' | 'catchupWindowMs' | 'jitterMs'
>;

/** Checks a schedule name: a user name (no `$`, no `#`) of at most 200 characters. */
export function assertScheduleName(name: unknown): asserts name is string {
  assertUserName(name, 'Schedule');
}

/**
 * Validates and defaults a schedule's definition; `where` names it in messages (a schedule name or
 * `Class#method`). Parses the cron expression once, so a bad one fails here and never at a tick.
 */
export function toScheduleSpec(o: CreateScheduleOptions, where: string): ScheduleSpec {
  if (!o || typeof o !== 'object')
    throw new InvalidCronError(`Options of schedule ${where} must be an object.`);
  if (typeof o.workflow !== 'string' || o.workflow === '')
    throw new InvalidCronError(
      `Schedule ${where} needs a workflow name, got ${describeValue(o.workflow)}.`,
    );
  const spec = new CronSpec(o.cron, o.timeZone ?? 'UTC');
  const overlap = o.overlap ?? 'skip';
  if (!OVERLAP_MODES.includes(overlap)) {
    throw new InvalidCronError(
      `Overlap of schedule ${where} must be one of ${OVERLAP_MODES.map((m) => `'${m}'`).join(', ')}, got ${describeValue(overlap)}.`,
    );
  }
  const catchupWindowMs =
    o.catchupWindow === undefined
      ? DEFAULT_CATCHUP_WINDOW_MS
      : toMs(o.catchupWindow, `catchupWindow of schedule ${where}`);
  if (catchupWindowMs < MIN_CATCHUP_WINDOW_MS)
    throw new InvalidCronError(`catchupWindow of schedule ${where} must be at least 1s.`);
  const jitterMs = o.jitter === undefined ? 0 : toMs(o.jitter, `jitter of schedule ${where}`);
  return {
    workflow: o.workflow,
    cron: spec.cron,
    timeZone: spec.timeZone,
    input: checkInput(o.input, where),
    overlap,
    catchupWindowMs,
    jitterMs,
  };
}

function checkInput(input: unknown, where: string): Record<string, unknown> | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object' || Array.isArray(input))
    throw new InvalidCronError(
      `Input of schedule ${where} must be a JSON object, got ${describeValue(input)}.`,
    );
  if ('scheduledAt' in input)
    throw new InvalidCronError(
      `Input of schedule ${where} may not set "scheduledAt": each run gets its tick's time there.`,
    );
  const size = jsonByteSize(input, `input of schedule ${where}`);
  if (size > MAX_SCHEDULE_INPUT_BYTES)
    throw new InvalidCronError(
      `Input of schedule ${where} is ${size} bytes; the limit is ${MAX_SCHEDULE_INPUT_BYTES}.`,
    );
  return JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
}

/** Prefix of every scheduled run's key. */
export const SCHEDULE_KEY_PREFIX = 'sched:';

/** Key of the run of tick `tickMs` of schedule `name`: `sched:<name>:<tick ISO>`. */
export function scheduleRunKey(name: string, tickMs: number): string {
  return `${SCHEDULE_KEY_PREFIX}${name}:${new Date(tickMs).toISOString()}`;
}

/** Input of the run of a tick: the schedule's input plus `scheduledAt` (ISO text, as JSON stores it). */
export function scheduledRunInput(
  input: Record<string, unknown> | null,
  tickMs: number,
): Record<string, unknown> {
  return { ...(input ?? {}), scheduledAt: new Date(tickMs).toISOString() };
}

/**
 * The input a scheduled run's method receives: `scheduledAt` back as a `Date` when the run's key
 * says it was started by a schedule for that very time (any other input is returned unchanged).
 */
export function reviveScheduledInput(key: string | undefined, input: unknown): unknown {
  if (!key?.startsWith(SCHEDULE_KEY_PREFIX) || input === null || typeof input !== 'object')
    return input;
  const at = (input as { scheduledAt?: unknown }).scheduledAt;
  if (typeof at !== 'string' || !key.endsWith(`:${at}`)) return input;
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? input : { ...input, scheduledAt: date };
}

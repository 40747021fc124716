import type { RepeatDefinition } from '../definitions/method-definitions.js';
import { stepStorage } from '../run/call-storage.js';

type Method = (...args: unknown[]) => unknown;

/** Coordination-log metadata of a repeat. */
export interface Coordination extends Record<string, unknown> {
  anchor: string;
  /** Index of the last tick that was run, failed or skipped; `null` before the first. */
  last_index: number | null;
  /** Scheduled time of that tick (chrono_forge's `last_execution_at`). */
  last_execution_at: string | null;
}

/** Whether the repeat's `till` (a method name on `self`, or a function) holds for `args`. */
export async function tillMet(
  self: object,
  args: unknown[],
  def: RepeatDefinition,
  coordName: string,
): Promise<boolean> {
  if (def.till === undefined) return false;
  const fn =
    typeof def.till === 'string'
      ? (self as Record<string, Method>)[def.till].bind(self)
      : (def.till as Method);
  return Boolean(await stepStorage.run(`${coordName}$till`, () => fn(...args)));
}

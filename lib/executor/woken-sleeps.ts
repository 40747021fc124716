import type { WorkflowRegistry } from '../definitions/workflow.registry.js';
import type { WorkflowInterceptors } from '../interceptors/workflow-interceptors.js';
import type { LogRow } from '../persistence/rows.js';
import type { WakeEligibility, WokenSleep } from '../persistence/workflow.store.js';
import type { RunScope } from '../run/run-scope.js';

/**
 * The workflows whose due sleeps the acquire completes (see {@link WakeEligibility}): those with no
 * run-level limits and no pass interceptors, with the version this worker has; `null` when none
 * qualifies.
 */
export function wakeEligibility(
  registry: WorkflowRegistry,
  interceptors: WorkflowInterceptors,
): WakeEligibility | null {
  const eligible: Record<string, string | null> = {};
  for (const name of registry.names()) {
    const definition = registry.get(name);
    if (!definition || definition.limits || interceptors.wrapsPasses(name)) continue;
    eligible[name] = definition.version ?? null;
  }
  return Object.keys(eligible).length > 0 ? JSON.stringify(eligible) : null;
}

/**
 * Sleeps the acquire completed (`woken`, among the `logs` it read): the replay notes reaching each
 * (its progress, as the replay's own completion was), and the pass puts back those it did not
 * reach ({@link putBackUnreached}).
 */
export function noteWoken(scope: RunScope, logs: LogRow[], woken: WokenSleep[]): void {
  if (woken.length === 0) return;
  const names = new Map(logs.map((l) => [l.id, l.step_name]));
  for (const w of woken) scope.unreachedWakes.set(names.get(w.id) ?? w.id, w);
}

/**
 * At the end of a pass, puts a sleep the acquire completed and the replay never reached (its code
 * changed) back as it was, with `unwake` (the store's, run until it goes through), and shows it
 * so in the pass's logs.
 */
export async function putBackUnreached(
  scope: RunScope,
  unwake: (sleeps: WokenSleep[]) => Promise<true>,
): Promise<void> {
  const unreached = [...scope.unreachedWakes];
  if (unreached.length === 0) return;
  scope.unreachedWakes.clear();
  await unwake(unreached.map(([, w]) => w));
  for (const [name, w] of unreached) {
    const log = scope.logs.get(name);
    if (log)
      scope.logs.set(name, { ...log, state: 'pending', attempts: w.attempts - 1, result: null });
  }
}

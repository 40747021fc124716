import type { INestApplicationContext } from '@nestjs/common';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { NonDeterminismError } from '../errors/non-determinism.error.js';
import {
  HISTORY_FORMAT,
  HISTORY_FORMAT_VERSION,
  type RunHistoryExport,
} from '../client/run-history.interface.js';
import type { LogRow, RunRow } from '../persistence/rows.js';
import { RunScope, runStorage } from '../run/run-scope.js';
import { HaltExecution } from '../run/halt-execution.js';
import { ChronoForgeClock } from '../util/clock.js';
import { deserializeValue } from '../util/serialization.util.js';

/**
 * What `replay` found. `ok`: the current code made every recorded call at its recorded position.
 * `outcome`: how the replay ended — `'completed'` (the method returned, `result` is its value),
 * `'end-of-history'` (the code reached a call the history has no result for: the run was still in
 * flight there), or `'threw'` (the method threw `error`, e.g. a recorded step failure).
 *
 * @publicApi
 */
export type ReplayReport =
  | {
      ok: true;
      outcome: 'completed' | 'end-of-history' | 'threw';
      result?: unknown;
      error?: unknown;
    }
  | {
      ok: false;
      /** The first call that does not match the history (`called: null`: a call the code no longer makes). */
      divergence: { position: number; recorded: string | null; called: string | null };
      error: NonDeterminismError;
    };

/** A pass over an exported history: any call that would do new work ends the replay instead. */
class ReplayScope extends RunScope {
  override assertCanWork(): void {
    this.assertOwned();
    this.halt(null);
  }
}

/**
 * Replays an exported run history (`client.export(key)`, `chronoforge export <key>`) against the
 * workflow code registered in `app` (a testing-kit harness's `moduleRef`, or any app with the
 * workflow): the method runs from the top with every durable call answered by its recorded result
 * and no side effect (no step body runs, nothing is written). Reports the first divergence.
 *
 * @publicApi
 */
export async function replay(
  history: RunHistoryExport,
  app: Pick<INestApplicationContext, 'get'>,
): Promise<ReplayReport> {
  if (history?.format !== HISTORY_FORMAT || history.formatVersion !== HISTORY_FORMAT_VERSION)
    throw new InvalidOptionsError(
      `replay needs a history exported by client.export() (format "${HISTORY_FORMAT}" version ${HISTORY_FORMAT_VERSION}).`,
    );
  const { run: recorded } = history;
  const definition = app.get(WorkflowRegistry).get(recorded.workflow);
  if (!definition)
    throw new InvalidOptionsError(
      `replay: workflow "${recorded.workflow}" is not registered in the given app.`,
    );
  const run: RunRow = {
    id: recorded.id,
    key: recorded.key,
    job_name: recorded.workflow,
    input: recorded.input,
    context: recorded.context ?? {},
    state: 'running',
    attempt: 0,
    retry_counts: {},
    max_duration_ms: '0',
    deadline_at: null,
    history: recorded.history,
    version: recorded.version,
  };
  // Only results: pending and failed logs make a replay end there (failed: the recorded failure).
  const logs = new Map<string, LogRow>(
    history.steps.map((s) => [
      s.name,
      {
        id: s.id,
        step_name: s.name,
        state: s.state,
        attempts: s.attempts,
        result: s.result,
        metadata: s.metadata,
      },
    ]),
  );
  const scope = new ReplayScope(
    run,
    logs,
    definition,
    'replay',
    () => false,
    new ChronoForgeClock(),
  );
  let returned: { value: unknown } | { error: unknown };
  try {
    const invoked = runStorage.run(scope, () => definition.invoke(run.input));
    returned = { value: await Promise.race([invoked, scope.stopped]) };
  } catch (err) {
    returned = { error: err };
  }
  await scope.settle();
  const diverged =
    scope.divergence ?? (!scope.halted && 'value' in returned ? scope.history.unmade() : undefined);
  if (diverged) {
    const { position, recorded: was, called } = diverged;
    return { ok: false, divergence: { position, recorded: was, called }, error: diverged };
  }
  if (scope.halted || ('error' in returned && returned.error instanceof HaltExecution))
    return { ok: true, outcome: 'end-of-history' };
  if ('error' in returned) return { ok: true, outcome: 'threw', error: returned.error };
  return { ok: true, outcome: 'completed', result: returned.value };
}

/** The recorded result of a completed run in an exported history (for comparing with a replay). */
export function recordedResult(history: RunHistoryExport): unknown {
  return deserializeValue(history.run.result);
}

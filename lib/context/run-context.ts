import { NotInWorkflowError } from '../errors/not-in-workflow.error.js';
import { currentAbortSignal } from '../lifecycle/abort-signals.js';
import { type RunScope, runStorage } from '../run/run-scope.js';

/**
 * What every durable call of {@link WorkflowContext} starts from: the run of the current call chain
 * (AsyncLocalStorage) and its read-only facts. Not injected on its own.
 */
export abstract class RunContext {
  protected scope(): RunScope {
    const scope = runStorage.getStore();
    if (!scope) {
      throw new NotInWorkflowError(
        'WorkflowContext is only available while a workflow method runs.',
      );
    }
    return scope;
  }

  /**
   * The run of a durable call that halts or forks the run (timers, signal waits, spawns, merges):
   * refused inside a step body with `DurableCallInStepError`, before the call takes a name.
   */
  protected durable(call: string): RunScope {
    const scope = this.scope();
    scope.refuseInsideStep(call);
    return scope;
  }

  /** The run's key (unique per workflow name). */
  get key(): string {
    return this.scope().run.key;
  }

  /** The run's database id. */
  get workflowId(): string {
    return this.scope().run.id;
  }

  /**
   * Fires when the run is cancelled or taken from this pass while a step body runs (checked every
   * 500 ms) and, inside a step body, when the step's `timeout` abandons the attempt. Hand it to
   * `fetch`, streams and timers so a long body stops early; its `reason` says why.
   */
  get abortSignal(): AbortSignal {
    return currentAbortSignal(this.scope());
  }

  /** The stored input, as given to `start`. */
  get input(): unknown {
    return this.scope().run.input;
  }

  /**
   * 1-based attempt of the workflow as a whole: grows when an uncaught error is retried, and starts
   * over once a pass makes progress (reaches a durable call no earlier pass reached, or completes
   * one). Constant during a pass.
   */
  get attempt(): number {
    return this.scope().run.attempt + 1;
  }
}

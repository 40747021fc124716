import { HaltExecution } from '../run/halt-execution.js';
import { RunScope } from '../run/run-scope.js';

/** Refusals after which a collecting replay halts (a method that catches them in a loop). */
const MAX_REFUSALS = 1_000;

/**
 * The scope of the replay a rollback pass makes to find the compensations of the run's completed
 * steps: completed durable calls replay (and register their compensations) as in any pass, and a
 * call that would do new work — run a step body, wait, spawn — is refused with `HaltExecution`.
 */
export class CollectingScope extends RunScope {
  private refusals = 0;

  override assertCanWork(): void {
    this.assertOwned();
    // NOTE: refused without halting the pass: calls made beside it (`Promise.all`) replay, tracked,
    // and register their compensations (a halted pass starts later calls untracked, after the
    // replay may have ended). A method that keeps calling after its refusals is halted.
    if (++this.refusals > MAX_REFUSALS) this.halt(null);
    throw new HaltExecution();
  }

  /** A collecting scope over the same run, logs and lock as `scope`. */
  static of(scope: RunScope): CollectingScope {
    const { run, logs, definition, owner, isDraining, clock } = scope;
    const collect = new CollectingScope(run, logs, definition, owner, isDraining, clock);
    collect.leaseStartedAt = scope.leaseStartedAt;
    return collect;
  }
}

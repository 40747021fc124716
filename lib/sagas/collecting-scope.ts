import { RunScope } from '../run/run-scope.js';

/**
 * The scope of the replay a rollback pass makes to find the compensations of the run's completed
 * steps: completed durable calls replay (and register their compensations) as in any pass, and the
 * first call that would do new work — run a step body, wait, spawn — halts the replay instead.
 */
export class CollectingScope extends RunScope {
  override assertCanWork(): void {
    this.assertOwned();
    this.halt(null);
  }

  /** A collecting scope over the same run, logs and lock as `scope`. */
  static of(scope: RunScope): CollectingScope {
    const { run, logs, definition, owner, isDraining, clock } = scope;
    const collect = new CollectingScope(run, logs, definition, owner, isDraining, clock);
    collect.leaseStartedAt = scope.leaseStartedAt;
    return collect;
  }
}

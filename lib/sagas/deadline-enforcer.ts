import { Injectable, Logger } from '@nestjs/common';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error.js';
import type { PassOutcome } from '../observability/chrono-forge-metrics.js';
import type { CompensateOn } from '../options/workflow-options.interface.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { toErrorRecord } from '../run/error-record.js';
import type { RunScope } from '../run/run-scope.js';
import type { PassEnding } from './pass-ending.js';
import { wakeParent } from '../queue/parent-wake.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { SagaStore } from './saga.store.js';

/**
 * Ends a run that passed its deadline, in the first pass that takes it afterwards (a wake-up at
 * the deadline, the recovery sweep, or the pass that a deadline during a step body halted):
 * `onTimeout: 'cancel'` cancels it (reason "deadline exceeded"), `'fail'` fails it with
 * `DeadlineExceededError`; either begins the run's rollback instead when its workflow rolls back
 * on that outcome, and a cancel of a workflow with an `@OnCancel()` cleanup begins one that runs
 * it. No step body runs in that pass.
 */
@Injectable()
export class DeadlineEnforcer {
  private readonly logger = new Logger('ChronoForgeParentWake');

  constructor(
    private readonly sagas: SagaStore,
    private readonly workflows: WorkflowStore,
    private readonly queue: WorkflowQueue,
  ) {}

  async enforce(scope: RunScope, end: PassEnding): Promise<PassOutcome> {
    const { run, owner, definition } = scope;
    const deadline = new Date(run.deadline_at!);
    const fail = definition.onTimeout === 'fail';
    const cause: CompensateOn = fail ? 'failed' : 'cancelled';
    const error = toErrorRecord(new DeadlineExceededError(run.id, deadline), null);
    const reason = `deadline exceeded (${deadline.toISOString()})`;
    const attempt = run.attempt + 1;
    const rollsBack = definition.compensateOn.includes(cause);
    // A cancel of a workflow with an `@OnCancel()` cleanup runs it (in a rollback of its own).
    if (rollsBack || (!fail && definition.onCancel)) {
      const begun = await end.settle(() =>
        fail
          ? this.sagas.beginRollback(run.id, owner, cause, attempt, error, null)
          : this.sagas.beginRollback(
              run.id,
              owner,
              cause,
              run.attempt,
              null,
              null,
              reason,
              rollsBack,
            ),
      );
      if (!begun) return 'lock_lost';
      await end.afterRelease(begun.nextRunAt);
      return 'compensating';
    }
    const ended = await end.settle(() =>
      fail
        ? this.workflows.fail(run.id, owner, attempt, error, null)
        : this.sagas.cancelRun(run.id, owner, reason),
    );
    if (!ended) return 'lock_lost';
    await wakeParent(this.queue, this.logger, ended);
    return fail ? 'failed' : 'cancelled';
  }
}

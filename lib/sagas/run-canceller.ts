import { Injectable, Logger } from '@nestjs/common';
import { assertOptionalText } from '../definitions/client-arguments.js';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { wakeParent } from '../queue/parent-wake.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { describeValue } from '../util/describe.util.js';
import type { CancelOptions } from './cancel-options.interface.js';
import { type CancelRollback, CancelStore } from './cancel.store.js';

/** Longest cancel reason. */
export const MAX_CANCEL_REASON_LENGTH = 1000;

/** Cancels runs (and their descendants) and wakes the ones that roll back. */
@Injectable()
export class RunCanceller {
  private readonly logger = new Logger('ChronoForgeParentWake');

  constructor(
    private readonly cancels: CancelStore,
    private readonly registry: WorkflowRegistry,
    private readonly queue: WorkflowQueue,
  ) {}

  /**
   * Cancels run `id` (and, with `children`, its descendants) when it is in one of `from`, as
   * `options` say; `false` when it was not.
   */
  async cancel(id: string, options: CancelOptions, from: string[]): Promise<boolean> {
    assertOptionalText(options.reason, 'cancel() reason', MAX_CANCEL_REASON_LENGTH);
    for (const flag of ['compensate', 'children'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean')
        throw new InvalidOptionsError(
          `cancel() ${flag} must be a boolean, got ${describeValue(options[flag])}.`,
        );
    }
    const cleanups = this.registry.names().filter((n) => this.registry.get(n)?.onCancel);
    const rollback: CancelRollback =
      options.compensate === undefined
        ? { all: false, workflows: this.rollsBackOnCancel(), cleanups }
        : { all: options.compensate, workflows: [], cleanups };
    const moved = await this.cancels.cancel(
      id,
      from,
      options.reason ?? null,
      options.children === true,
      rollback,
    );
    const rolling = moved.filter((r) => r.state === 'compensating');
    await Promise.all(rolling.map((r) => this.queue.enqueueRun(r.id, r.nextRunAt)));
    for (const r of moved) if (r.woken) await wakeParent(this.queue, this.logger, r);
    return moved.some((r) => r.id === id);
  }

  /** Workflows of this application whose `compensateOn` lists `'cancelled'`. */
  private rollsBackOnCancel(): string[] {
    return this.registry
      .names()
      .filter((name) => this.registry.get(name)?.compensateOn.includes('cancelled'));
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';

/**
 * The `worker.concurrency` passes of a worker process, shared by the queue's jobs and in-place
 * starts without either waiting for the other: an in-place pass takes a slot only when one is free
 * and at least one stays with the queue, and the queue's worker then fetches only as many jobs as
 * the in-place passes leave (a job fetched into a slot it cannot use would wait in this process,
 * held from idle workers elsewhere).
 */
@Injectable()
export class PassSlots {
  private inPlace = 0;
  private queued = 0;
  private readonly size: number;

  constructor(
    private readonly queue: WorkflowQueue,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions,
  ) {
    this.size = options.worker === false ? 0 : options.worker.concurrency;
  }

  /** Passes running: the queue's jobs and the in-place ones. */
  get active(): number {
    return this.inPlace + this.queued;
  }

  /** Takes a slot for an in-place pass, or `false` (all taken, or only the queue's last one free). */
  tryTakeInPlace(): boolean {
    if (this.inPlace >= this.size - 1 || this.active >= this.size) return false;
    this.inPlace++;
    this.queue.setRunConcurrency(this.size - this.inPlace);
    return true;
  }

  /** Gives an in-place pass's slot back to the queue. */
  giveInPlace(): void {
    this.inPlace--;
    this.queue.setRunConcurrency(this.size - this.inPlace);
  }

  /** Runs a queue job's pass, counted in {@link active}. */
  async runQueued<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    try {
      return await fn();
    } finally {
      this.queued--;
    }
  }
}

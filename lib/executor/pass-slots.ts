import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';

/**
 * The passes a worker process runs: the queue's jobs (its worker takes up to `worker.concurrency`
 * at once, as without in-place starts) and in-place starts, which take only slots free at the moment
 * of the start and never more than `concurrency - 1` at once. Neither waits for the other: a queue
 * job that waited here for an in-place pass's slot would be held from idle workers elsewhere.
 */
@Injectable()
export class PassSlots {
  private inPlace = 0;
  private queued = 0;
  private readonly size: number;

  constructor(@Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions) {
    this.size = options.worker === false ? 0 : options.worker.concurrency;
  }

  /** Passes running: the queue's jobs and the in-place ones. */
  get active(): number {
    return this.inPlace + this.queued;
  }

  /** Takes a slot for an in-place pass, or `false` when none is free. */
  tryTakeInPlace(): boolean {
    if (this.inPlace >= this.size - 1 || this.active >= this.size) return false;
    this.inPlace++;
    return true;
  }

  /** Gives an in-place pass's slot back. */
  giveInPlace(): void {
    this.inPlace--;
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

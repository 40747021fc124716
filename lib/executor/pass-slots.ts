import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';

/**
 * The `worker.concurrency` passes a worker process runs at once, shared by the queue's jobs and
 * in-place starts: a job whose slot an in-place pass holds waits for it (still active in the queue,
 * its lock renewed), an in-place start takes a free slot or goes through the queue.
 */
@Injectable()
export class PassSlots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly size: number;

  constructor(@Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions) {
    this.size = options.worker === false ? 1 : options.worker.concurrency;
  }

  /** Slots in use. */
  get active(): number {
    return this.busy;
  }

  /** Takes a free slot, or `false` when all are in use. */
  tryTake(): boolean {
    if (this.busy >= this.size) return false;
    this.busy++;
    return true;
  }

  /** Runs `fn` in a slot, waiting for one first if all are in use. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.tryTake()) await new Promise<void>((take) => this.waiting.push(take));
    try {
      return await fn();
    } finally {
      this.give();
    }
  }

  /** Gives a slot back: to the longest waiting job, else free. */
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy--;
  }
}

import { Injectable } from '@nestjs/common';

/**
 * The engine's source of time for timers, timeouts, backoffs and repeat schedules. Replace it in
 * tests (`TestClock`) so a suite never sleeps for real minutes.
 *
 * @publicApi
 */
@Injectable()
export class ChronoForgeClock {
  /** Milliseconds since the epoch. */
  now(): number {
    return Date.now();
  }
}

/**
 * A clock tests move by hand. After moving it, call `WorkflowWorker.sweep()` (or use the testing
 * kit) so runs whose wake time has now passed are enqueued.
 *
 * @publicApi
 */
export class TestClock extends ChronoForgeClock {
  private offsetMs = 0;
  private fixedMs: number | undefined;

  override now(): number {
    return (this.fixedMs ?? Date.now()) + this.offsetMs;
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Jumps to an absolute time; real time keeps flowing from there unless `freeze` is true. */
  set(epochMs: number, freeze = false): void {
    if (freeze) {
      this.fixedMs = epochMs;
      this.offsetMs = 0;
    } else {
      this.fixedMs = undefined;
      this.offsetMs = epochMs - Date.now();
    }
  }
}

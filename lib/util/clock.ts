import { Injectable } from '@nestjs/common';

/**
 * The engine's source of time for timers, timeouts, backoffs, repeat schedules and due checks.
 * It follows the database's clock: the engine compares its own times with times PostgreSQL writes
 * (`now()`: a run's first wake-up, a signal's, a retry's), so both must be one clock. The skew of
 * this machine's clock is measured against the database at boot and every minute
 * (`ClockSync`); a worker whose clock is off by minutes still wakes runs on time. Replace it in
 * tests (`TestClock`) so a suite never sleeps for real minutes.
 *
 * @publicApi
 */
@Injectable()
export class ChronoForgeClock {
  /** The database's clock minus this machine's, as last measured (ms). */
  private skewMs = 0;

  /** Milliseconds since the epoch, on the database's clock. */
  now(): number {
    return this.systemNow() + this.skewMs;
  }

  /** This machine's clock; `now()` corrects it by the measured skew. */
  protected systemNow(): number {
    return Date.now();
  }

  /**
   * Measures the skew against `readDatabaseNow` (the database's current time in ms), taking the
   * middle of the round trip as the moment it was read.
   */
  async calibrate(readDatabaseNow: () => Promise<number>): Promise<void> {
    const before = this.systemNow();
    const databaseNow = await readDatabaseNow();
    const after = this.systemNow();
    this.skewMs = Math.round(databaseNow - (before + after) / 2);
  }
}

/**
 * A clock tests move by hand. After moving it, call `WorkflowWorker.sweep()` (or use the testing
 * kit) so runs whose wake time has now passed are enqueued. It is not calibrated against the
 * database: the test owns time.
 *
 * @publicApi
 */
export class TestClock extends ChronoForgeClock {
  private offsetMs = 0;
  private fixedMs: number | undefined;

  override now(): number {
    return (this.fixedMs ?? Date.now()) + this.offsetMs;
  }

  /** Does nothing: the test sets the time. */
  override async calibrate(): Promise<void> {}

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

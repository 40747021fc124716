import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ChronoForgeDatabase } from './chrono-forge-database.js';
import { ChronoForgeClock } from '../util/clock.js';

/** Interval between two measurements of the clock skew against the database. */
export const CLOCK_SYNC_EVERY_MS = 60_000;

/**
 * Keeps `ChronoForgeClock` on the database's clock: measures the skew once the database is open
 * (before any worker takes a job) and every `CLOCK_SYNC_EVERY_MS`. A failed measurement keeps the
 * last one.
 */
@Injectable()
export class ClockSync implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ClockSync.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clock: ChronoForgeClock,
    private readonly database: ChronoForgeDatabase,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync(), CLOCK_SYNC_EVERY_MS);
    this.timer.unref();
  }

  /** Measures the skew now. */
  async sync(): Promise<void> {
    try {
      await this.clock.calibrate(async () => {
        const { rows } = await this.database.pool.query<{ now: Date }>('SELECT now() AS now');
        return rows[0].now.getTime();
      });
    } catch (err) {
      this.logger.warn(`Could not read the database clock: ${(err as Error).message}`);
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

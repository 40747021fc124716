import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type pg from 'pg';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { enqueueDueRuns } from './enqueue-due.js';
import { WorkflowQueue } from './workflow.queue.js';
import { ChronoForgeClock } from '../util/clock.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { SCHEDULES_CHANNEL } from '../schedules/schedule.store.js';

/** PostgreSQL channel of wake-ups committed inside application transactions. */
export const WAKE_CHANNEL = 'chronoforge_wake';

/** How long the listener waits before reconnecting after it lost its connection. */
export const WAKE_LISTENER_RETRY_MS = 1_000;

/** Most runs the catch-up sweep after a (re)connect enqueues when `recovery` is off. */
const CATCH_UP_BATCH = 500;

/** SQL that queues a wake-up for run `$n` of `schema`; PostgreSQL delivers it only on commit. */
export function notifySql(param: string): string {
  return `SELECT pg_notify('${WAKE_CHANNEL}', ${param})`;
}

/** Payload of a wake-up notification. */
export function wakePayload(schema: string, workflowId: string): string {
  return `${schema}:${workflowId}`;
}

/**
 * In worker processes: LISTENs for wake-ups that application transactions committed
 * (`client.start(…, { manager })`, `client.signal(…, { manager })`) and enqueues them.
 *
 * It listens on a connection of its own (outside the engine's pool, which it would otherwise hold
 * for the life of the process). A notification sent while it is not listening (connection lost,
 * reconnecting, not yet listening at boot) is gone: after every successful `LISTEN` it enqueues
 * every run that is due now, so such a wake-up waits for the reconnect (about 1 s), not for the
 * recovery sweeper. If this process is down the sweeper still finds the run.
 *
 * On the same connection it LISTENs for schedule writes ({@link SCHEDULES_CHANNEL}) and tells the
 * schedule loop ({@link onSchedulesChanged}), also after every (re)connect, since a write may have
 * been missed while not listening.
 */
@Injectable()
export class WakeListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WakeListener.name);
  private client: pg.Client | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly scheduleListeners: (() => void)[] = [];

  constructor(
    private readonly db: ChronoForgeDatabase,
    private readonly queue: WorkflowQueue,
    private readonly store: WorkflowStore,
    private readonly clock: ChronoForgeClock,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Calls `listener` whenever schedules of this engine's schema may have changed. */
  onSchedulesChanged(listener: () => void): void {
    this.scheduleListeners.push(listener);
  }

  private schedulesChanged(): void {
    for (const listener of this.scheduleListeners) listener();
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.worker === false) return;
    await this.listen().catch((err: Error) => this.scheduleRetry(err));
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = await this.db.connectDedicated('wake-listener', true);
    const prefix = `${this.db.schema}:`;
    client.on('notification', (msg) => {
      if (msg.channel === SCHEDULES_CHANNEL && msg.payload === this.db.schema) {
        this.schedulesChanged();
        return;
      }
      if (msg.channel !== WAKE_CHANNEL || !msg.payload?.startsWith(prefix)) return;
      const id = msg.payload.slice(prefix.length);
      if (!/^\d{1,19}$/.test(id)) return;
      this.queue
        .enqueueRun(id)
        .catch((err: Error) =>
          this.logger.warn(`Wake-up of run ${id} not enqueued: ${err.message}`),
        );
    });
    let lost = false;
    const onLost = (err: Error) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      void client.end().catch(() => undefined);
      this.scheduleRetry(err);
    };
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('connection ended')));
    try {
      await client.query(`LISTEN ${WAKE_CHANNEL}; LISTEN ${SCHEDULES_CHANNEL}`);
    } catch (err) {
      lost = true;
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.schedulesChanged();
    await this.catchUp();
  }

  /** Enqueues the runs that are due now: wake-ups notified while nobody listened. */
  private async catchUp(): Promise<void> {
    try {
      const limit =
        this.options.recovery === false ? CATCH_UP_BATCH : this.options.recovery.batchSize;
      await enqueueDueRuns({ store: this.store, queue: this.queue, clock: this.clock }, 0, limit);
    } catch (err) {
      this.logger.warn(`Wake-up catch-up after LISTEN failed: ${(err as Error).message}`);
    }
  }

  private scheduleRetry(err: Error): void {
    if (this.stopped) return;
    this.logger.warn(`Wake-up listener lost its connection (${err.message}); retrying in 1 s`);
    this.retryTimer = setTimeout(
      () => void this.listen().catch((e: Error) => this.scheduleRetry(e)),
      WAKE_LISTENER_RETRY_MS,
    );
    this.retryTimer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}

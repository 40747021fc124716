import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { PoolClient } from 'pg';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../chrono-forge.constants.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { ChronoForgeDatabase } from './chrono-forge-database.js';

/** PostgreSQL channel of wake-ups committed inside application transactions. */
export const WAKE_CHANNEL = 'chronoforge_wake';

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
 * (`client.start(…, { manager })`, `client.signal(…, { manager })`) and enqueues them. If this
 * process is down the recovery sweeper still finds the run (its `next_run_at` is due).
 */
@Injectable()
export class WakeListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WakeListener.name);
  private client: PoolClient | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: ChronoForgeDatabase,
    private readonly queue: WorkflowQueue,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.worker === false) return;
    await this.listen().catch((err: Error) => this.scheduleRetry(err));
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = await this.db.pool.connect();
    const prefix = `${this.db.schema}:`;
    client.on('notification', (msg) => {
      if (msg.channel !== WAKE_CHANNEL || !msg.payload?.startsWith(prefix)) return;
      const id = msg.payload.slice(prefix.length);
      if (!/^\d{1,19}$/.test(id)) return;
      this.queue
        .enqueueRun(id)
        .catch((err: Error) =>
          this.logger.warn(`Wake-up of run ${id} not enqueued: ${err.message}`),
        );
    });
    client.on('error', (err) => {
      client.release(err);
      if (this.client === client) this.client = undefined;
      this.scheduleRetry(err);
    });
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
    this.client = client;
  }

  private scheduleRetry(err: Error): void {
    if (this.stopped) return;
    this.logger.warn(`Wake-up listener lost its connection (${err.message}); retrying in 1 s`);
    this.retryTimer = setTimeout(
      () => void this.listen().catch((e: Error) => this.scheduleRetry(e)),
      1000,
    );
    this.retryTimer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.query(`UNLISTEN ${WAKE_CHANNEL}`).catch(() => undefined);
      client.release();
    }
  }
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowExecutor } from '../executor/workflow.executor.js';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';

/** Longest interval between two heartbeats. */
export const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Registers this worker process in `chrono_forge_workers` and refreshes its heartbeat, so that when
 * the process dies its locks are taken over after `worker.deadAfter` rather than after the run's
 * `maxDuration`.
 *
 * The heartbeat has a connection of its own, outside the engine's pool: transactional steps (or any
 * burst of work) holding every pooled connection longer than `deadAfter` must not stop it, or other
 * workers would take over the locks of passes that are still running.
 */
@Injectable()
export class WorkerHeartbeat {
  private readonly logger = new Logger(WorkerHeartbeat.name);
  private timer: NodeJS.Timeout | undefined;
  private conn: pg.Client | undefined;
  private beating: Promise<void> | undefined;
  /** When the last heartbeat was written (this machine's clock, ms); unset when not beating. */
  lastBeatAt: number | undefined;

  constructor(
    private readonly store: WorkflowStore,
    private readonly db: ChronoForgeDatabase,
    private readonly executor: WorkflowExecutor,
    private readonly registry: WorkflowRegistry,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Registers the worker (before it takes any job) and starts beating. */
  async start(): Promise<void> {
    await this.beat();
    const every = Math.min(
      HEARTBEAT_EVERY_MS,
      this.options.worker === false ? HEARTBEAT_EVERY_MS : this.options.worker.deadAfterMs / 6,
    );
    this.timer = setInterval(
      () =>
        void this.beat().catch((err: Error) =>
          this.logger.warn(`Heartbeat failed: ${err.message}`),
        ),
      every,
    );
    this.timer.unref();
  }

  /** One heartbeat; a beat still in flight (a slow or reconnecting connection) is not doubled. */
  private beat(): Promise<void> {
    this.beating ??= this.write().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async write(): Promise<void> {
    const client = this.conn ?? (this.conn = await this.db.connectDedicated('heartbeat'));
    try {
      await client.query(
        `INSERT INTO ${this.store.workers} (id, versions) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), versions = EXCLUDED.versions`,
        [this.executor.workerId, JSON.stringify(this.versions())],
      );
      this.lastBeatAt = Date.now();
    } catch (err) {
      // Reconnect at the next beat: the connection may be gone (restart, failover, terminated).
      this.conn = undefined;
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  /** The workflow versions this worker serves (`{ workflow: version }`), recorded with its beat. */
  private versions(): Record<string, string> {
    const served: Record<string, string> = {};
    for (const name of this.registry.names()) {
      const version = this.registry.get(name)?.version;
      if (version !== undefined) served[name] = version;
    }
    return served;
  }

  /** Removes rows of workers dead for a day (called by the recovery sweeper). */
  async prune(): Promise<void> {
    await this.store.query(
      `DELETE FROM ${this.store.workers} WHERE heartbeat_at < now() - interval '1 day'`,
    );
  }

  /** Stops beating and unregisters (a clean shutdown leaves no row behind). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating?.catch(() => undefined);
    this.lastBeatAt = undefined;
    await this.store
      .query(`DELETE FROM ${this.store.workers} WHERE id = $1`, [this.executor.workerId])
      .catch(() => undefined);
    const client = this.conn;
    this.conn = undefined;
    await client?.end().catch(() => undefined);
  }
}

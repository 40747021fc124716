import { Injectable, Logger } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { type CleanupOptions, resolveCleanupOptions } from '../options/cleanup-options.js';
import { pruneRepeatTicks } from './repeat-tick-pruner.js';

export type { CleanupOptions } from '../options/cleanup-options.js';

/** Rows {@link Cleanup.run} deleted. @publicApi */
export interface CleanupResult {
  workflows: number;
  executionLogs: number;
  errorLogs: number;
  repeatTicks: number;
}

/** One delete rule: runs in `states` whose `column` is older than `cutoff`. */
interface RunRule {
  states: readonly string[];
  column: 'completed_at' | 'finished_at';
  cutoff: Date;
}

/**
 * Reclaims storage: deletes old terminal runs (with their step logs, error logs and signals) and,
 * when asked, the tick rows `@Repeat` accumulates in long-lived runs. Never deletes `idle`,
 * `running` or `stalled` runs. Call it from your own scheduler, or let the worker processes run it
 * on the queue with the module option `cleanup: { every, ...options }`.
 *
 * Retention is measured from when a run became terminal, not from when it started: `completed`
 * runs by `completed_at`, `failed` and `cancelled` runs by `finished_at`.
 *
 * A branch child is kept, however old, while its parent may still merge it: until the parent is
 * `completed` or `cancelled`, the merge of the child's branch completed, or the parent is deleted.
 *
 * Tick pruning is conservative: a tick row `durably_repeat$<name>$<ms>` goes only when it is
 * terminal and its scheduled time (the `<ms>` of its name, not `created_at`) is before both the
 * cutoff and the coordination log's `last_execution_at` frontier. The repeat never looks behind
 * its frontier again, so a pruned occurrence never runs again. A repeat without a frontier yet is
 * left alone.
 *
 * @example
 * ```ts
 * const deleted = await moduleRef.get(Cleanup).run({
 *   olderThan: '90d',
 *   failedOlderThan: '180d',
 *   pruneRepeatTicksOlderThan: '30d',
 * });
 * ```
 * @publicApi
 */
@Injectable()
export class Cleanup {
  private readonly logger = new Logger(Cleanup.name);

  constructor(
    private readonly db: ChronoForgeDatabase,
    private readonly metrics: ChronoForgeMetrics,
  ) {}

  /**
   * Deletes what `options` allows, in batches, and returns the number of rows deleted. Each run
   * logs one line and moves the `chronoforge_cleanup_*` metrics.
   */
  async run(options: CleanupOptions = {}): Promise<CleanupResult> {
    const o = resolveCleanupOptions(options, 'Cleanup.run()');
    const started = Date.now();
    const cutoff = (ms: number) => new Date(started - ms);
    const rules: RunRule[] = [
      { states: ['completed'], column: 'completed_at', cutoff: cutoff(o.completedOlderThanMs) },
      {
        states: ['failed', 'cancelled', 'compensated'],
        column: 'finished_at',
        cutoff: cutoff(o.failedOlderThanMs),
      },
    ];
    const result: CleanupResult = { workflows: 0, executionLogs: 0, errorLogs: 0, repeatTicks: 0 };
    try {
      for (const rule of rules) await this.deleteRuns(rule, o.batchSize, result);
      if (o.pruneRepeatTicksOlderThanMs !== null) {
        const tickCutoff = cutoff(o.pruneRepeatTicksOlderThanMs);
        result.repeatTicks = await pruneRepeatTicks(
          this.db.pool,
          this.logs,
          tickCutoff,
          o.batchSize,
        );
      }
    } catch (err) {
      this.metrics.cleanupRun(false, result);
      this.logger.error(`Cleanup failed: ${(err as Error).message}`);
      throw err;
    }
    this.metrics.cleanupRun(true, result);
    this.logger.log(
      `Cleanup deleted ${result.workflows} runs, ${result.executionLogs} step logs, ` +
        `${result.errorLogs} error logs and ${result.repeatTicks} repeat ticks in ${Date.now() - started} ms`,
    );
    return result;
  }

  private get schema(): string {
    return `"${this.db.schema}"`;
  }

  private get logs(): string {
    return `${this.schema}.chrono_forge_execution_logs`;
  }

  /** Deletes the runs `rule` matches, one transaction per batch, until none is left. */
  private async deleteRuns(rule: RunRule, batchSize: number, out: CleanupResult): Promise<void> {
    for (;;) {
      const deleted = await this.db.transaction((client) =>
        this.deleteBatch(client, rule, batchSize, out),
      );
      if (deleted < batchSize) return;
    }
  }

  private async deleteBatch(
    client: PoolClient,
    rule: RunRule,
    batchSize: number,
    out: CleanupResult,
  ): Promise<number> {
    const wf = `${this.schema}.chrono_forge_workflows`;
    // Row locks keep a concurrent retry from reviving a run between the check and the delete.
    // A child is deleted only once its parent no longer needs it: the parent is completed or
    // cancelled or compensated (final), or the merge of the child's branch completed and recorded
    // its children's outcomes (a merge never re-counts; one of more than 100 children records
    // only counts, and iterating it in a later pass reads the children).
    // Otherwise a live (or retryable failed) parent would merge without the deleted child, or a
    // replayed merge would stop seeing a cancelled one. Deleting the parent frees its children.
    const picked = await client.query<{ id: string }>(
      `SELECT w.id FROM ${wf} w WHERE w.state = ANY($1::text[]) AND w.${rule.column} < $2
         AND (w.parent_execution_log_id IS NULL OR NOT EXISTS (
           SELECT 1 FROM ${this.logs} b JOIN ${wf} p ON p.id = b.workflow_id
           WHERE b.id = w.parent_execution_log_id AND p.state NOT IN ('completed', 'cancelled', 'compensated')
             AND NOT EXISTS (
               SELECT 1 FROM ${this.logs} m
               WHERE m.workflow_id = b.workflow_id AND m.step_name LIKE 'merge$%' AND m.state = 'completed'
                 AND (m.result IS NULL OR jsonb_typeof(m.result->'json'->'rows') = 'array')
                 AND substr(b.step_name, 8) = ANY(string_to_array(substr(m.step_name, 7), ',')))))
       ORDER BY w.id LIMIT $3 FOR UPDATE OF w SKIP LOCKED`,
      [rule.states, rule.cutoff, batchSize],
    );
    const ids = picked.rows.map((r) => r.id);
    if (ids.length === 0) return 0;
    // Children spawned from these runs' branch logs keep living, without a parent pointer.
    await client.query(
      `UPDATE ${wf} SET parent_execution_log_id = NULL WHERE parent_execution_log_id IN
         (SELECT id FROM ${this.logs} WHERE workflow_id = ANY($1::bigint[]))`,
      [ids],
    );
    const errors = await client.query(
      `DELETE FROM ${this.schema}.chrono_forge_error_logs WHERE workflow_id = ANY($1::bigint[])`,
      [ids],
    );
    await client.query(
      `DELETE FROM ${this.schema}.chrono_forge_signals WHERE workflow_id = ANY($1::bigint[])`,
      [ids],
    );
    const logs = await client.query(
      `DELETE FROM ${this.logs} WHERE workflow_id = ANY($1::bigint[])`,
      [ids],
    );
    const runs = await client.query(`DELETE FROM ${wf} WHERE id = ANY($1::bigint[])`, [ids]);
    out.errorLogs += errors.rowCount ?? 0;
    out.executionLogs += logs.rowCount ?? 0;
    out.workflows += runs.rowCount ?? 0;
    return ids.length;
  }
}

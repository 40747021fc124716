import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { ChronoForgeDatabase } from '../persistence/chrono-forge-database.js';
import { type Duration, toMs } from '../util/duration.util.js';
import { pruneRepeatTicks } from './repeat-tick-pruner.js';

/** Options of {@link Cleanup.run}. @publicApi */
export interface CleanupOptions {
  /** Retention of terminal runs without a more specific option. @default '90d' */
  olderThan?: Duration;
  /** Retention of `completed` runs, measured from `completed_at`. @default olderThan */
  completedOlderThan?: Duration;
  /** Retention of `failed` and `cancelled` runs, measured from `updated_at`. @default olderThan */
  failedOlderThan?: Duration;
  /**
   * Opt-in: also delete terminal `@Repeat` tick rows of any run (running ones included) whose
   * scheduled time is older than this and strictly behind the repeat's frontier.
   */
  pruneRepeatTicksOlderThan?: Duration;
  /** Rows per delete statement. @default 1000 */
  batchSize?: number;
}

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
  column: 'completed_at' | 'updated_at';
  cutoff: Date;
}

/**
 * Reclaims storage: deletes old terminal runs (with their step logs, error logs and signals) and,
 * when asked, the tick rows `@Repeat` accumulates in long-lived runs. Never deletes `idle`,
 * `running` or `stalled` runs. Nothing runs it automatically; call it from your own scheduler.
 *
 * Retention is measured from when a run became terminal, not from when it started: `completed`
 * runs by `completed_at`, `failed` and `cancelled` runs by `updated_at`.
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
  constructor(private readonly db: ChronoForgeDatabase) {}

  /** Deletes what `options` allows, in batches, and returns the number of rows deleted. */
  async run(options: CleanupOptions = {}): Promise<CleanupResult> {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionsError('Cleanup.run() options must be an object.');
    }
    const batchSize = options.batchSize ?? 1000;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      throw new InvalidOptionsError(
        `Cleanup batchSize must be an integer in 1..100000, got ${batchSize}.`,
      );
    }
    const now = Date.now();
    const cutoff = (d: Duration, what: string) => new Date(now - toMs(d, `cleanup ${what}`));
    const olderThan = options.olderThan ?? '90d';
    const rules: RunRule[] = [
      {
        states: ['completed'],
        column: 'completed_at',
        cutoff: cutoff(options.completedOlderThan ?? olderThan, 'completedOlderThan'),
      },
      {
        states: ['failed', 'cancelled'],
        column: 'updated_at',
        cutoff: cutoff(options.failedOlderThan ?? olderThan, 'failedOlderThan'),
      },
    ];
    const tickCutoff =
      options.pruneRepeatTicksOlderThan === undefined
        ? null
        : cutoff(options.pruneRepeatTicksOlderThan, 'pruneRepeatTicksOlderThan');
    const result: CleanupResult = { workflows: 0, executionLogs: 0, errorLogs: 0, repeatTicks: 0 };
    for (const rule of rules) await this.deleteRuns(rule, batchSize, result);
    if (tickCutoff) {
      result.repeatTicks = await pruneRepeatTicks(this.db.pool, this.logs, tickCutoff, batchSize);
    }
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
    const picked = await client.query<{ id: string }>(
      `SELECT id FROM ${wf} WHERE state = ANY($1::text[]) AND ${rule.column} < $2
       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
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

import { Injectable } from '@nestjs/common';
import type { ErrorRecord, StateCarrier } from '../persistence/rows.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { StoredValue } from '../util/serialization.util.js';

/** A repeat tick (or fast-forward summary) row to write. */
export interface TickWrite {
  name: string;
  state: 'completed' | 'failed';
  attempts: number;
  metadata: Record<string, unknown>;
  result?: StoredValue | null;
  errorClass?: string;
  errorMessage?: string;
  /** Also write an error-log row (a failed tick attempt; not for fast-forward summaries). */
  errorLog?: ErrorRecord;
}

/** Statements of `@Repeat`: each tick and its coordination update are written together. */
@Injectable()
export class RepeatStore {
  constructor(private readonly store: WorkflowStore) {}

  /**
   * Scheduled time of the earliest `pending` tick of coordination log `coordName` scheduled after
   * `afterMs` (a tick waiting for a retry), or `null`.
   */
  async pendingTick(
    workflowId: string,
    coordName: string,
    afterMs: number,
  ): Promise<number | null> {
    const pattern = `${coordName.replace(/[\\%_]/g, (c) => `\\${c}`)}$%`;
    const rows = await this.store.query<{ step_name: string }>(
      `SELECT step_name FROM ${this.store.logs}
       WHERE workflow_id = $1 AND state = 'pending' AND step_name LIKE $2`,
      [workflowId, pattern],
    );
    const times = rows
      .map((r) => r.step_name.slice(coordName.length + 1))
      .filter((suffix) => /^\d+$/.test(suffix))
      .map(Number)
      .filter((t) => t > afterMs);
    return times.length > 0 ? Math.min(...times) : null;
  }

  /**
   * Moves the coordination log to `coordMeta` and writes the tick row (plus its error-log row) in
   * one statement. Returns false when the lock was lost. With `carrier`, the durable state the pass
   * changed since its last checkpoint (e.g. in the tick's body, which never runs again once the
   * tick is recorded) is written by the same statement.
   */
  async recordTick(
    workflowId: string,
    owner: string,
    coordName: string,
    coordMeta: Record<string, unknown>,
    tick: TickWrite,
    carrier?: StateCarrier,
  ): Promise<boolean> {
    const { wf, logs, errors } = this.store;
    const e = tick.errorLog;
    const values: unknown[] = [
      workflowId,
      owner,
      coordName,
      JSON.stringify(coordMeta),
      tick.name,
      tick.state,
      tick.attempts,
      tick.result ? JSON.stringify(tick.result) : null,
      JSON.stringify(tick.metadata),
      tick.errorClass ?? null,
      tick.errorMessage ?? null,
      e?.errorClass ?? null,
      e?.message ?? null,
      e?.backtrace ?? null,
      e?.context ? JSON.stringify(e.context) : null,
    ];
    const write = await this.store.claimWrite(carrier);
    const { claim } = write;
    if (claim) values.push(JSON.stringify(claim.state));
    // With state: the UPDATE of the run's row is the fence (it locks the row).
    const fence = claim ? 'EXISTS (SELECT 1 FROM f)' : this.store.fenced();
    let rows: unknown[] = [];
    try {
      rows = await write.query(
        `WITH ${claim ? `f AS (UPDATE ${wf} SET context = $16::jsonb WHERE id = $1 AND locked_by = $2 RETURNING id),` : ''}
       c AS (
         UPDATE ${logs} SET metadata = $4, attempts = attempts + 1, last_executed_at = now(), updated_at = now()
         WHERE workflow_id = $1 AND step_name = $3 AND ${fence} RETURNING id),
       t AS (
         INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at,
           result, metadata, error_class, error_message)
         SELECT $1, $5, $6, $7, now(), now(), now(), $8, $9, $10, $11 FROM c
         ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
           last_executed_at = now(), completed_at = now(), result = EXCLUDED.result, metadata = EXCLUDED.metadata,
           error_class = EXCLUDED.error_class, error_message = EXCLUDED.error_message, updated_at = now()
         RETURNING id),
       e AS (
         INSERT INTO ${errors} (workflow_id, execution_log_id, step_name, attempt, error_class, error_message, backtrace, context)
         SELECT $1, t.id, $5, $7, $12, $13, $14, $15 FROM t WHERE $12::text IS NOT NULL)
       SELECT id FROM t`,
        values,
      );
    } finally {
      write.end(rows.length > 0);
    }
    return rows.length > 0;
  }
}

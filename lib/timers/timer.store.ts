import { Injectable } from '@nestjs/common';
import type { QueryRunner } from 'typeorm';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { StateCarrier } from '../persistence/rows.js';
import type { StoredValue } from '../util/serialization.util.js';

/** Statements of signals and external wake-ups. */
@Injectable()
export class TimerStore {
  constructor(private readonly store: WorkflowStore) {}

  /**
   * Consumes the oldest unconsumed signal `name` and completes step `stepName` with its payload, in
   * one statement fenced by the run's lock; `null` when no signal is waiting (or the step is already
   * completed: then no signal is consumed). With `carrier`, durable state the pass changed since its
   * last checkpoint is written by the same statement.
   */
  async consumeSignal(
    workflowId: string,
    owner: string,
    stepName: string,
    name: string,
    attempts: number,
    metadata: Record<string, unknown>,
    carrier?: StateCarrier,
  ): Promise<StoredValue | null> {
    const { wf, signals, logs } = this.store;
    const write = await this.store.claimWrite(carrier);
    const unsaved = write.claim;
    const values: unknown[] = [
      workflowId,
      owner,
      stepName,
      name,
      attempts,
      JSON.stringify(metadata),
    ];
    if (unsaved) values.push(JSON.stringify(unsaved.state));
    const fence = unsaved ? `EXISTS (SELECT 1 FROM f)` : this.store.fenced();
    let rows: Array<{ result: StoredValue }> = [];
    try {
      rows = await write.query<{ result: StoredValue }>(
        `WITH ${unsaved ? `f AS (UPDATE ${wf} SET context = $7::jsonb WHERE id = $1 AND locked_by = $2 RETURNING id),` : ''}
       s AS (
         UPDATE ${signals} SET consumed_by = $3, consumed_at = now()
         WHERE id = (SELECT id FROM ${signals} WHERE workflow_id = $1 AND name = $4 AND consumed_at IS NULL
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
           AND ${fence}
           AND NOT EXISTS (SELECT 1 FROM ${logs} WHERE workflow_id = $1 AND step_name = $3 AND state = 'completed')
         RETURNING payload)
       INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at,
         result, metadata)
       SELECT $1, $3, 'completed', $5, now(), now(), now(), s.payload, $6 FROM s
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = EXCLUDED.attempts,
         last_executed_at = now(), completed_at = now(), result = EXCLUDED.result, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING result`,
        values,
      );
    } finally {
      // NOTE: the state UPDATE commits whenever the lock is ours, even when no signal is waiting.
      write.end(rows[0] !== undefined);
    }
    if (!rows[0]) return null;
    return rows[0].result;
  }

  /**
   * Stores a signal and requests a wake-up in one statement: an idle run gets `next_run_at = now`
   * (so the sweeper delivers it even if the queued job is lost), a running one a pending wake.
   * Returns the run's state, or `null` if the run does not accept signals.
   *
   * The run's row is updated (so locked) before the signal is inserted: a cancel or completion
   * that commits first is seen by the state check (PostgreSQL re-checks it on the newest row), and
   * one that commits later waits for the signal. A signal is never stored against a run that is
   * already terminal, and never moves a terminal run's `updated_at`.
   */
  async insertSignal(
    workflowId: string,
    name: string,
    payload: StoredValue,
    runner?: QueryRunner,
  ): Promise<{ state: string; next_run_at: Date | null } | null> {
    const { wf, signals } = this.store;
    const rows = await this.store.query<{ state: string; next_run_at: Date | null }>(
      `WITH w AS (
         UPDATE ${wf} SET next_run_at = CASE WHEN state = 'idle' THEN now() ELSE next_run_at END,
           wake_pending = wake_pending OR state = 'running', updated_at = now()
         WHERE id = $1 AND state IN ('idle', 'running', 'stalled')
         RETURNING id, state, next_run_at),
       s AS (INSERT INTO ${signals} (workflow_id, name, payload) SELECT id, $2, $3 FROM w)
       SELECT state, next_run_at FROM w`,
      [workflowId, name, JSON.stringify(payload)],
      runner,
    );
    return rows[0] ?? null;
  }

  /** Requests a pass of an idle or running run (`continueIf` re-check); `null` otherwise. */
  async requestWake(
    workflowId: string,
  ): Promise<{ state: string; next_run_at: Date | null } | null> {
    const rows = await this.store.query<{ state: string; next_run_at: Date | null }>(
      `UPDATE ${this.store.wf} SET next_run_at = CASE WHEN state = 'idle' THEN now() ELSE next_run_at END,
         wake_pending = wake_pending OR state = 'running', updated_at = now()
       WHERE id = $1 AND state IN ('idle', 'running') RETURNING state, next_run_at`,
      [workflowId],
    );
    return rows[0] ?? null;
  }
}

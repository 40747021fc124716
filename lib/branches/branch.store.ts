import { Injectable } from '@nestjs/common';
import { WorkflowStore } from '../persistence/workflow.store.js';

/** A child run to insert. */
export interface ChildRow {
  key: string;
  workflow: string;
  input: unknown;
  maxDurationMs: number;
  /** The child workflow's own timeout; its deadline is never later than its parent's. */
  timeoutMs?: number | null;
}

/** Per-branch child counts. */
export interface BranchCounts {
  branchLogId: string;
  total: number;
  pending: number;
  neverStarted: number;
  running: number;
  /** Children cancelled: they never complete, so the merge cannot. */
  cancelled: number;
  /** Children failed, or failed and rolled back (`compensated`). */
  failed: number;
  /** Children failed and rolled back: like a cancelled one, such a child never completes. */
  compensated: number;
  /** Children not ended yet (neither completed, failed, cancelled nor compensated). */
  unfinished: number;
}

/** Statements of branches, spawns and the merge poller. */
@Injectable()
export class BranchStore {
  constructor(private readonly store: WorkflowStore) {}

  /**
   * Inserts a batch of children (existing keys are left alone), saves the spawn cursor on the
   * branch log (and, when `counted`, adds the children inserted to its `pending_children`, which
   * their ends count down to wake the parent), and returns the children that never started, all in one fenced statement. Keys
   * taken by a run that is not a child of this branch come back in `conflicts`; the cursor is then
   * left where it was, so the batch is dispatched again rather than merged without those children.
   *
   * NOTE: children that existed before (a batch dispatched again after a crash) are looked up by
   * the unique `(job_name, key)` index, and only when the insert skipped some: a scan of the
   * branch's children would make every batch cost O(children spawned so far). `OFFSET 0` keeps
   * the lookup a per-key subquery, so the planner cannot pick the `(parent, state)` index instead.
   */
  async dispatch(
    parentId: string,
    owner: string,
    branchLogId: string,
    children: ChildRow[],
    cursorName: string,
    cursor: Record<string, unknown>,
    counted = true,
  ): Promise<{ toEnqueue: { id: string; next_run_at: Date }[]; conflicts: string[] } | null> {
    const { wf, logs } = this.store;
    const rows = await this.store.query<{
      id: string | null;
      next_run_at: Date | null;
      fenced: boolean;
      conflict: string | null;
    }>(
      `WITH ok AS (SELECT ${this.store.fenced()} AS fenced,
           (SELECT deadline_at FROM ${wf} WHERE id = $1) AS deadline_at),
       ins AS (
         INSERT INTO ${wf} (key, job_name, input, max_duration_ms, next_run_at, parent_execution_log_id, deadline_at)
         SELECT c.key, c.job_name, c.input, c.max_ms, now(), $3,
           LEAST(ok.deadline_at, now() + c.timeout_ms * interval '1 millisecond')
         FROM unnest($4::text[], $5::text[], $6::jsonb[], $7::bigint[], $10::bigint[])
           AS c(key, job_name, input, max_ms, timeout_ms), ok
         WHERE ok.fenced
         ON CONFLICT (job_name, key) DO NOTHING
         RETURNING id, next_run_at),
       skipped AS (
         SELECT w.id, w.next_run_at, w.key, w.parent_execution_log_id IS NOT DISTINCT FROM $3::bigint AS own,
           w.state = 'idle' AND w.started_at IS NULL AS never_started
         FROM unnest($4::text[], $5::text[]) AS c(key, job_name),
           LATERAL (SELECT id, next_run_at, key, parent_execution_log_id, state, started_at FROM ${wf}
                    WHERE job_name = c.job_name AND key = c.key OFFSET 0) w
         WHERE (SELECT fenced FROM ok) AND (SELECT count(*) FROM ins) < cardinality($4::text[])),
       cur AS (
         UPDATE ${logs} SET metadata = CASE WHEN NOT EXISTS (SELECT 1 FROM skipped WHERE NOT own)
             THEN jsonb_set(metadata || jsonb_build_object('cursors', COALESCE(metadata->'cursors', '{}'::jsonb)),
               ARRAY['cursors', $8::text], $9::jsonb) ELSE metadata END,
           pending_children = pending_children + CASE WHEN $11::boolean THEN (SELECT count(*) FROM ins) ELSE 0 END,
           updated_at = now()
         WHERE id = $3 AND (SELECT fenced FROM ok))
       SELECT id, next_run_at, true AS fenced, NULL::text AS conflict FROM ins
       UNION ALL
       SELECT id, next_run_at, true, NULL FROM skipped WHERE own AND never_started
       UNION ALL
       SELECT NULL, NULL, true, key FROM skipped WHERE NOT own
       UNION ALL
       SELECT NULL, NULL, ok.fenced, NULL FROM ok`,
      [
        parentId,
        owner,
        branchLogId,
        children.map((c) => c.key),
        children.map((c) => c.workflow),
        children.map((c) => JSON.stringify(c.input ?? null)),
        children.map((c) => c.maxDurationMs),
        cursorName,
        JSON.stringify(cursor),
        children.map((c) => c.timeoutMs ?? null),
        counted,
      ],
    );
    if (!rows.find((r) => r.id === null && r.conflict === null)?.fenced) return null;
    const seen = new Set<string>();
    const toEnqueue: { id: string; next_run_at: Date }[] = [];
    for (const r of rows) {
      if (r.id === null || r.next_run_at === null || seen.has(r.id)) continue;
      seen.add(r.id);
      toEnqueue.push({ id: r.id, next_run_at: r.next_run_at });
    }
    const conflicts = rows.flatMap((r) => (r.conflict === null ? [] : [r.conflict]));
    return { toEnqueue, conflicts };
  }

  /** Child counts of each branch log (`failed` includes the `compensated` children). */
  async counts(branchLogIds: string[]): Promise<BranchCounts[]> {
    const rows = await this.store.query<BranchCounts>(
      `SELECT b.id AS "branchLogId", count(w.id)::int AS total,
         count(w.id) FILTER (WHERE w.state <> 'completed')::int AS pending,
         count(w.id) FILTER (WHERE w.state = 'idle' AND w.started_at IS NULL)::int AS "neverStarted",
         count(w.id) FILTER (WHERE w.state = 'running')::int AS running,
         count(w.id) FILTER (WHERE w.state = 'cancelled')::int AS cancelled,
         count(w.id) FILTER (WHERE w.state IN ('failed', 'compensated'))::int AS failed,
         count(w.id) FILTER (WHERE w.state = 'compensated')::int AS compensated,
         count(w.id) FILTER (WHERE w.state NOT IN ('completed', 'failed', 'cancelled', 'compensated'))::int AS unfinished
       FROM unnest($1::bigint[]) AS b(id)
       LEFT JOIN ${this.store.wf} w ON w.parent_execution_log_id = b.id
       GROUP BY b.id`,
      [branchLogIds],
    );
    return rows.map((r) => ({ ...r, branchLogId: String(r.branchLogId) }));
  }

  /** Writes the merge's fencing token on every branch log (fenced by the parent's lock). */
  async setPollToken(
    parentId: string,
    owner: string,
    branchLogIds: string[],
    token: string,
  ): Promise<boolean> {
    const rows = await this.store.query(
      `UPDATE ${this.store.logs} SET metadata = metadata || jsonb_build_object('poll_token', $4::text), updated_at = now()
       WHERE id = ANY($3::bigint[]) AND workflow_id = $1 AND ${this.store.fenced()} RETURNING id`,
      [parentId, owner, branchLogIds, token],
    );
    return rows.length === branchLogIds.length;
  }

  /** Keys of up to `limit` cancelled children of the branch logs, by id. */
  async cancelledChildren(branchLogIds: string[], limit: number): Promise<string[]> {
    const rows = await this.store.query<{ key: string }>(
      `SELECT key FROM ${this.store.wf}
       WHERE parent_execution_log_id = ANY($1::bigint[]) AND state = 'cancelled' ORDER BY id LIMIT $2`,
      [branchLogIds, limit],
    );
    return rows.map((r) => r.key);
  }

  /** Branch logs for the poller: state, token, last poll record and the parent run's state. */
  async branchLogs(ids: string[]): Promise<
    {
      id: string;
      state: string;
      metadata: Record<string, unknown>;
      parent_state: string;
    }[]
  > {
    return this.store.query(
      `SELECT l.id::text, l.state, l.metadata, w.state AS parent_state
       FROM ${this.store.logs} l JOIN ${this.store.wf} w ON w.id = l.workflow_id
       WHERE l.id = ANY($1::bigint[])`,
      [ids],
    );
  }

  /** Records the poll (only while `token` is current). */
  async recordPoll(ids: string[], token: string, poll: object): Promise<void> {
    await this.store.query(
      `UPDATE ${this.store.logs} SET metadata = metadata || jsonb_build_object('poll', $3::jsonb)
       WHERE id = ANY($1::bigint[]) AND metadata->>'poll_token' = $2`,
      [ids, token, JSON.stringify(poll)],
    );
  }

  /** Children never picked up for `staleMs`: touched (debounce) and returned for a re-kick. */
  async staleNeverStarted(
    ids: string[],
    staleMs: number,
    limit: number,
  ): Promise<{ id: string; next_run_at: Date }[]> {
    return this.store.query(
      `UPDATE ${this.store.wf} SET updated_at = now(), next_run_at = COALESCE(next_run_at, now())
       WHERE id IN (SELECT id FROM ${this.store.wf} WHERE parent_execution_log_id = ANY($1::bigint[])
                    AND state = 'idle' AND started_at IS NULL AND updated_at < now() - $2 * interval '1 millisecond'
                    LIMIT $3)
       RETURNING id, next_run_at`,
      [ids, staleMs, limit],
    );
  }

  /**
   * Pushes an idle parent's safety wake-up back to `until` while its merge poller is alive, so the
   * parent replays only when the poller wakes it — or, if the poller was lost, soon after. A wake
   * time already due (a child's end woke the parent: pushed fan-in) is never pushed back, or the
   * parent's pass would find itself not due and the wake-up would be lost.
   */
  async extendDeadline(parentId: string, until: Date): Promise<void> {
    await this.store.query(
      `UPDATE ${this.store.wf} SET next_run_at = $2
       WHERE id = $1 AND state = 'idle' AND next_run_at IS NOT NULL AND next_run_at < $2
         AND next_run_at > now()`,
      [parentId, until],
    );
  }
}

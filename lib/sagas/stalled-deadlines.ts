import { Injectable } from '@nestjs/common';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';

/** A stalled run is handed over this long after its deadline (clock differences between hosts). */
const STALLED_GRACE_MS = 1_000;

/**
 * The recovery sweep's part for deadlines of `stalled` runs: no pass takes a stalled run by itself,
 * so a stalled run of this application past its deadline is made `idle` and due, and woken; the
 * pass that takes it ends it as its workflow's `onTimeout` says (see `DeadlineEnforcer`), before any
 * step runs.
 */
@Injectable()
export class StalledDeadlines {
  constructor(
    private readonly store: WorkflowStore,
    private readonly registry: WorkflowRegistry,
    private readonly queue: WorkflowQueue,
  ) {}

  /** Hands over at most `limit` stalled runs past their deadline; returns how many. */
  async sweep(limit: number): Promise<number> {
    const names = this.registry.names();
    if (names.length === 0) return 0;
    const versions = names.map((n) => this.registry.get(n)?.version ?? null);
    const { wf } = this.store;
    // Only runs this process serves (its workflows, at a version it has: see `servesRun`).
    const due = await this.store.query<{ id: string; wake: Date }>(
      `UPDATE ${wf} SET state = 'idle', next_run_at = now(), wake_pending = false, updated_at = now()
       WHERE id IN (SELECT s.id FROM ${wf} s WHERE s.state = 'stalled'
           AND s.deadline_at <= now() - $2 * interval '1 millisecond'
           AND EXISTS (SELECT 1 FROM unnest($1::text[], $4::text[]) AS d(name, version)
             WHERE d.name = s.job_name AND (s.version IS NULL OR s.version = d.version))
         ORDER BY s.deadline_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         AND state = 'stalled'
       RETURNING id::text AS id, next_run_at AS wake`,
      [names, STALLED_GRACE_MS, limit, versions],
    );
    // NOTE: persisted first; a lost enqueue is found by the next sweep (an overdue idle run).
    await Promise.all(due.map((r) => this.queue.enqueueRun(r.id, r.wake)));
    return due.length;
  }
}

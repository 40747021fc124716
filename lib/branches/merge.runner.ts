import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CancelledChildError } from '../errors/cancelled-child.error.js';
import { ChildWorkflowFailedError } from '../errors/child-workflow-failed.error.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { UnknownBranchError } from '../errors/unknown-branch.error.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import type { RunScope } from '../run/run-scope.js';
import { crashPoint } from '../steps/fault-injector.js';
import { deserializeValue, serializeValue } from '../util/serialization.util.js';
import { MERGE_GRACE_MS } from './branch-merge.job.js';
import { type MergeOptions, mergeState, parseMerge } from './branch-specs.js';
import { BranchStore } from './branch.store.js';
import { CallStore } from './call.store.js';
import {
  MERGE_INLINE_LIMIT,
  type MergeResult,
  mergeResult,
  type OutcomeRow,
  type RecordedMerge,
} from './merge-result.js';

/** How a merge's error names a child's end. */
const ENDED_HOW: Record<string, string> = {
  failed: 'failed',
  cancelled: 'was cancelled',
  compensated: 'failed and was rolled back (compensated)',
};

/**
 * `ctx.merge()`: completes inline when the branches' children are done (as its `mode` counts
 * them) and returns their outcomes; otherwise starts a fenced BranchMergeJob and halts. The last
 * child's end wakes the run directly (pushed fan-in); the poller is the safety net.
 */
@Injectable()
export class MergeRunner {
  constructor(
    private readonly store: WorkflowStore,
    private readonly branches: BranchStore,
    private readonly calls: CallStore,
    private readonly queue: WorkflowQueue,
  ) {}

  async merge<R = unknown>(
    scope: RunScope,
    names: string[],
    options: MergeOptions,
  ): Promise<MergeResult<R>> {
    const { unique, stepName, minMs, maxMs, mode } = parseMerge(names, options);
    scope.enter(stepName);
    scope.assertOwned();
    const open = unique.map((n) => {
      const b = scope.openBranches.get(n);
      if (!b)
        throw new UnknownBranchError(
          `merge("${n}"): no branch "${n}" was opened before this merge.`,
        );
      return b;
    });
    const ids = open.map((b) => b.logId);
    const log = scope.logs.get(stepName);
    const done = (recorded: RecordedMerge): MergeResult<R> => {
      open.forEach((b) => (b.merged = true));
      return mergeResult<R>(recorded, () => this.pages(ids));
    };
    if (log?.state === 'completed') {
      const recorded = deserializeValue<RecordedMerge | undefined>(log.result);
      return done(recorded ?? { counts: { total: 0, completed: 0, failed: 0 }, rows: null });
    }
    scope.assertCanWork();
    const sealed = unique.every((n) => scope.logs.get(`branch$${n}`)?.state === 'completed');
    const counts = sealed ? await this.branches.counts(ids) : [];
    const sum = (k: 'pending' | 'cancelled' | 'failed' | 'compensated' | 'unfinished' | 'total') =>
      counts.reduce((a, c) => a + c[k], 0);
    const totals = {
      pending: sum('pending'),
      cancelled: sum('cancelled'),
      failed: sum('failed'),
      compensated: sum('compensated'),
      unfinished: sum('unfinished'),
    };
    const state = sealed ? mergeState(mode, totals) : 'wait';
    if (state === 'cancelled') {
      // A cancelled run never completes: the merge fails (every replay, deterministically: Cleanup
      // keeps an unmerged branch's children). Caught, the branches count as merged.
      done({ counts: { total: 0, completed: 0, failed: 0 }, rows: null });
      const keys = await this.branches.cancelledChildren(ids, 10);
      throw new CancelledChildError(
        `merge(${unique.join(', ')}): ${totals.cancelled} child run(s) were cancelled and will never complete: ${keys.map((k) => JSON.stringify(k)).join(', ')}${totals.cancelled > keys.length ? ', …' : ''}.`,
        keys,
      );
    }
    if (state === 'fail' || state === 'compensated') {
      // failFast: the first child that failed, was cancelled or rolled back. Default mode: the
      // first that rolled back (`compensated`), which never completes, as a cancelled one.
      done({ counts: { total: 0, completed: 0, failed: 0 }, rows: null });
      const states = state === 'fail' ? ['failed', 'cancelled', 'compensated'] : ['compensated'];
      const child = await this.calls.firstEnded(ids, states);
      const key = child?.key ?? '';
      const error = {
        errorClass: child?.error_class ?? null,
        message: child?.error_message ?? null,
      };
      const how = state === 'fail' ? 'failed fast' : 'will never complete';
      throw new ChildWorkflowFailedError(
        `merge(${unique.join(', ')}) ${how}: child run ${JSON.stringify(key)} ${ENDED_HOW[child?.state ?? 'failed'] ?? 'failed'}${error.message ? `: ${error.message}` : ''}.`,
        key,
        child?.state ?? 'failed',
        error,
      );
    }
    if (state === 'done') {
      const total = sum('total');
      const failed = totals.failed + totals.cancelled;
      const recorded: RecordedMerge = {
        counts: { total, completed: total - failed - totals.unfinished, failed },
        rows: total <= MERGE_INLINE_LIMIT ? await this.all(ids) : null,
      };
      crashPoint(scope, stepName, 'before');
      const id = await this.store.completeStep(
        scope.run.id,
        scope.owner,
        stepName,
        (log?.attempts ?? 0) + 1,
        serializeValue(recorded),
        log?.metadata ?? {},
        new Date(),
      );
      if (id === null) throw new LockLostError(scope.run.id);
      crashPoint(scope, stepName, 'after');
      return done(recorded);
    }
    const token = randomUUID();
    if (!(await this.branches.setPollToken(scope.run.id, scope.owner, ids, token)))
      throw new LockLostError(scope.run.id);
    await this.store.savePendingLog(scope.run.id, scope.owner, stepName, (log?.attempts ?? 0) + 1, {
      token,
    });
    const data = { parentId: scope.run.id, branchLogIds: ids, minMs, maxMs, token };
    scope.afterRelease.push(() => this.queue.enqueueMerge(mode ? { ...data, mode } : data, 0, 0));
    // NOTE: the last child's end wakes the parent (pushed fan-in); the poller is the safety net for a lost wake-up, and this timer the net for a lost poller:
    // every poll pushes it back (BranchMergeJob), so a live poller never lets it fire.
    return scope.halt(scope.now() + 2 * minMs + MERGE_GRACE_MS);
  }

  private async *pages(ids: string[]): AsyncGenerator<OutcomeRow[]> {
    yield* this.calls.pages(ids);
  }

  private async all(ids: string[]): Promise<OutcomeRow[]> {
    const rows: OutcomeRow[] = [];
    for await (const page of this.calls.pages(ids)) rows.push(...page);
    return rows;
  }
}

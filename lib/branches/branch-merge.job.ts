import { Injectable, Logger } from '@nestjs/common';
import type { MergeJobData } from '../queue/job-data.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { TimerStore } from '../timers/timer.store.js';
import { type BranchCounts, BranchStore } from './branch.store.js';
import { mergeState } from './branch-specs.js';

/** Children never picked up for this long are re-enqueued. */
export const REKICK_AFTER_MS = 5 * 60_000;
/** At most this many re-kicks per poll. */
export const REKICK_BATCH = 200;
/**
 * How long past two poll intervals a parent waits before it assumes its poller was lost (a Redis
 * flush, a killed worker) and replays the merge, which starts a new poller.
 */
export const MERGE_GRACE_MS = 30_000;
/** States of a parent whose merge is still awaited; any other state stops the poller. */
const POLLED_PARENT_STATES = new Set(['idle', 'running']);
/** The next poll comes after this fraction of the estimated time to drain. */
const ETA_FRACTION = 0.5;

/** What a poll records on the branch logs (`metadata.poll`), for operators and the next poll. */
export interface PollRecord {
  last_polled_at: number;
  next_poll_at: number | null;
  interval: number | null;
  pending: number;
  never_started: number;
  spawned: number;
  sealed: boolean;
  rate: number;
  eta_seconds: number | null;
  polls: number;
  rekicked: number;
  rekick_total: number;
}

const clamp = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v));

/**
 * chrono_forge's BranchMergeJob: polls the children of merged branches with an adaptive delay,
 * re-kicks children that never started, and wakes the parent once every branch is sealed and its
 * children are done as the merge's `mode` counts them (see `mergeState`): in the default mode also
 * as soon as a child was cancelled or rolled back (`compensated`), as neither ever completes (the
 * parent's merge then raises `CancelledChildError` or `ChildWorkflowFailedError`). A poll whose
 * fencing token was superseded by a newer merge, or whose parent is no longer `idle` or `running`
 * (completed, failed, stalled, cancelled), stops silently: a retried parent replays its merge,
 * which starts a new poller.
 */
@Injectable()
export class BranchMergeJob {
  private readonly logger = new Logger(BranchMergeJob.name);

  constructor(
    private readonly branches: BranchStore,
    private readonly timers: TimerStore,
    private readonly queue: WorkflowQueue,
  ) {}

  async poll(data: MergeJobData): Promise<void> {
    const { branchLogIds: ids, token, minMs, maxMs, parentId } = data;
    const logs = await this.branches.branchLogs(ids);
    if (logs.length !== ids.length || logs.some((l) => l.metadata.poll_token !== token)) return;
    if (!POLLED_PARENT_STATES.has(logs[0].parent_state)) return;
    const counts = await this.branches.counts(ids);
    const sum = (k: Exclude<keyof BranchCounts, 'branchLogId'>) =>
      counts.reduce((a, c) => a + c[k], 0);
    const pending = sum('pending');
    const neverStarted = sum('neverStarted');
    const cancelled = sum('cancelled');
    const sealed = logs.every((l) => l.state === 'completed');
    const prev = logs[0].metadata.poll as PollRecord | undefined;
    const now = Date.now();
    const base = {
      last_polled_at: now,
      pending,
      never_started: neverStarted,
      spawned: sum('total'),
      sealed,
    };
    const totals = {
      pending,
      cancelled,
      failed: sum('failed'),
      compensated: sum('compensated'),
      unfinished: sum('unfinished'),
    };
    if (sealed && mergeState(data.mode, totals) !== 'wait') {
      await this.branches.recordPoll(ids, token, this.record(base, prev, null, 0, 0, null));
      const woken = await this.timers.requestWake(parentId);
      if (woken?.state === 'idle') await this.queue.enqueueRun(parentId, woken.next_run_at);
      return;
    }
    const droppedSinceLast = prev !== undefined && neverStarted < prev.never_started;
    const rekicked =
      neverStarted > 0 && !droppedSinceLast
        ? await this.branches.staleNeverStarted(ids, REKICK_AFTER_MS, REKICK_BATCH)
        : [];
    if (rekicked.length > 0) {
      this.logger.warn(
        `Re-kicking ${rekicked.length} child run(s) of run ${parentId} that never started`,
      );
      await this.queue.enqueueChildren(rekicked);
    }
    const elapsed = prev ? (now - prev.last_polled_at) / 1000 : 0;
    const rate =
      prev && prev.pending > pending && elapsed > 0 ? (prev.pending - pending) / elapsed : 0;
    let delay: number;
    if (rate > 0) delay = clamp((pending / rate) * ETA_FRACTION * 1000, minMs, maxMs);
    else if (sum('running') > 0) delay = minMs;
    else if (neverStarted > 0)
      delay = prev?.interval ? clamp(prev.interval * 2, minMs, maxMs) : minMs;
    else delay = maxMs;
    const eta = rate > 0 ? Math.round(pending / rate) : null;
    const record = this.record(base, prev, delay, rate, rekicked.length, eta);
    await this.branches.recordPoll(ids, token, record);
    await this.queue.enqueueMerge(data, delay, record.polls);
    await this.branches.extendDeadline(parentId, new Date(now + 2 * delay + MERGE_GRACE_MS));
  }

  private record(
    base: Pick<PollRecord, 'last_polled_at' | 'pending' | 'never_started' | 'spawned' | 'sealed'>,
    prev: PollRecord | undefined,
    delay: number | null,
    rate: number,
    rekicked: number,
    eta: number | null,
  ): PollRecord {
    return {
      ...base,
      next_poll_at: delay === null ? null : base.last_polled_at + delay,
      interval: delay,
      rate: Math.round(rate * 1000) / 1000,
      eta_seconds: eta,
      polls: (prev?.polls ?? 0) + 1,
      rekicked,
      rekick_total: (prev?.rekick_total ?? 0) + rekicked,
    };
  }
}

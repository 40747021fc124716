/**
 * The payloads and ids of the engine's BullMQ jobs: only queue/ builds them (WorkflowQueue) and
 * checks them when they come back (WorkflowWorker).
 */
import type { QueueOptions } from 'bullmq';

/** Options of every job the engine adds. */
export const DEFAULT_JOB_OPTIONS: QueueOptions['defaultJobOptions'] = {
  removeOnComplete: true,
  removeOnFail: true,
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
};

/** Payload of a `run` job: only the run's id; everything else is read from PostgreSQL. */
export interface RunJobData {
  workflowId: string;
}

/** Deterministic job id of a wake-up, so duplicate enqueues of the same wake collapse. */
export function runJobId(workflowId: string, wakeMs: number, tag = ''): string {
  return `run-${workflowId}-${tag}${wakeMs}`;
}

/** Window in which the recovery sweeps of a still-overdue run collapse onto one job id. */
export const RESWEEP_MS = 5_000;

/** Largest run id: ids are PostgreSQL `bigint`s. */
const MAX_RUN_ID = 9_223_372_036_854_775_807n;

/** Whether a job's `workflowId` can name a run (a decimal `bigint`), so it reaches PostgreSQL. */
export function isRunId(id: unknown): id is string {
  return typeof id === 'string' && /^\d{1,19}$/.test(id) && BigInt(id) <= MAX_RUN_ID;
}

/** Payload of a BranchMergeJob. */
export interface MergeJobData {
  parentId: string;
  branchLogIds: string[];
  minMs: number;
  maxMs: number;
  token: string;
  /** The merge's mode (`ctx.merge(…, { mode })`): when its children count as drained. */
  mode?: 'failFast' | 'collect';
}

/** Validates a BranchMergeJob payload read back from the queue. */
export function isMergeJobData(d: unknown): d is MergeJobData {
  const m = d as MergeJobData;
  return (
    !!m &&
    typeof m.parentId === 'string' &&
    /^\d+$/.test(m.parentId) &&
    Array.isArray(m.branchLogIds) &&
    m.branchLogIds.length > 0 &&
    m.branchLogIds.every((id) => typeof id === 'string' && /^\d+$/.test(id)) &&
    Number.isFinite(m.minMs) &&
    Number.isFinite(m.maxMs) &&
    typeof m.token === 'string' &&
    (m.mode === undefined || m.mode === 'failFast' || m.mode === 'collect')
  );
}

/** Job id of poll number `poll` of a merge: one per parent, fencing token and poll. */
export function mergeJobId(data: MergeJobData, poll: number): string {
  return `merge-${data.parentId}-${data.token}-${poll}`;
}

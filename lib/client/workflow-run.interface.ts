import type { RunLimitWait } from '../limits/limit-info.interface.js';
import type { ExecutionLogState } from '../database/entities/execution-log.entity.js';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { CompensateOn } from '../options/workflow-options.interface.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';

/**
 * A run as `WorkflowClient.list()` returns it.
 *
 * @publicApi
 */
export interface WorkflowRunSummary {
  id: string;
  key: string;
  workflow: string;
  state: WorkflowState;
  attempt: number;
  startedAt: Date | null;
  /** When the run completed; `null` unless its state is `completed`. */
  completedAt: Date | null;
  /** When the run became terminal: `completed`, `failed` or `cancelled` (`null` otherwise). */
  finishedAt: Date | null;
  nextRunAt: Date | null;
  lockedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The run's search attributes (`ctx.setAttributes`, `start({ attributes })`); `{}`: none. */
  attributes: SearchAttributes;
}

/** @publicApi */
export interface StepInfo {
  name: string;
  state: ExecutionLogState;
  attempts: number;
  startedAt: Date | null;
  completedAt: Date | null;
  errorClass: string | null;
  errorMessage: string | null;
  metadata: Record<string, unknown>;
}

/** @publicApi */
export interface ErrorInfo {
  id: string;
  stepName: string | null;
  attempt: number | null;
  errorClass: string;
  message: string | null;
  backtrace: string | null;
  createdAt: Date;
}

/** A branch of a run with its children counted by state. @publicApi */
export interface BranchInfo {
  name: string;
  /** The branch method returned; no more children will be spawned. */
  sealed: boolean;
  children: Partial<Record<WorkflowState, number>>;
  /** Last BranchMergeJob poll record (pending, rate, ETA, next poll), if a merge is waiting. */
  poll: unknown;
}

/** A compensation that exhausted its retries during a rollback (ruby_reactor's rollback failure). @publicApi */
export interface CompensationFailure {
  /** The compensated step (`step$charge`). */
  step: string;
  /** The compensation's own step log (`$compensate$step$charge`). */
  compensation: string;
  errorClass: string | null;
  message: string | null;
}

/** Why and how a run rolled back. @publicApi */
export interface CompensationInfo {
  /**
   * The outcome that began the rollback (or the state `client.compensate()` found); `byParent`: a
   * completed child that rolls back because its parent does.
   */
  cause: CompensateOn | 'byParent';
  /** Steps whose compensation completed, in the order they ran (set when the rollback ended). */
  compensated?: string[];
  /** Compensations that failed; the run is then `failed` (set when the rollback ended). */
  failures?: CompensationFailure[];
}

/**
 * A run with its input, result, durable state, steps and error log, as `WorkflowClient.get()`
 * returns it.
 *
 * @publicApi
 */
export interface WorkflowRunDetail extends WorkflowRunSummary {
  input: unknown;
  result: unknown;
  state: WorkflowState;
  context: Record<string, unknown>;
  /** The run's deadline (`timeout`), if it has one. */
  deadlineAt: Date | null;
  /** Why the run was cancelled, as given to `client.cancel(key, { reason })`. */
  cancelReason: string | null;
  /** Set once the run began a rollback; the compensations' step logs are `$compensate$<step>`. */
  compensation: CompensationInfo | null;
  steps: StepInfo[];
  errors: ErrorInfo[];
  branches: BranchInfo[];
  /** The limits the run waits on (parked idle until admitted); empty when it waits on none. */
  waitingOn: RunLimitWait[];
  /** The `@Workflow({ version })` the run started with (`null`: none). */
  version: string | null;
  /** Id of the run `client.fork` made this one from (`null`: not a fork). */
  forkedFrom: string | null;
}

/**
 * Filter of `WorkflowClient.list()`; results are newest first, paginated by `before` (an id).
 *
 * @publicApi
 */
export interface ListRunsFilter {
  state?: WorkflowState | WorkflowState[];
  workflow?: string;
  keyPrefix?: string;
  /** Only runs with an id below this one (keyset pagination). */
  before?: string;
  /**
   * Only runs whose search attributes include every one of these (same key, same value and type:
   * `{ amount: 42 }` does not match `'42'`). Served by the index on the attributes.
   */
  attributes?: SearchAttributes;
  /** @default 50, at most 500 */
  limit?: number;
}

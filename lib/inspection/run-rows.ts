import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';

/** Every column of a run the detail page shows. */
export interface RunDetailRow {
  id: string;
  key: string;
  workflow: string;
  state: WorkflowState;
  attempt: number;
  input: unknown;
  result: unknown;
  context: Record<string, unknown>;
  max_duration_ms: number;
  locked_at: Date | null;
  locked_by: string | null;
  /** The lock is stale by the engine's rule (see `RunListStore.staleLock`). */
  lock_stale: boolean;
  /** The lock is older than the run's `max_duration_ms` (otherwise a stale lock's worker is dead). */
  lock_expired: boolean;
  started_at: Date | null;
  completed_at: Date | null;
  /** When the run became `completed`, `failed` or `cancelled`. */
  finished_at: Date | null;
  next_run_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** Why the run was cancelled (`client.cancel(key, { reason })`). */
  cancel_reason: string | null;
  /** The run's deadline (`timeout`), if it has one. */
  deadline_at: Date | null;
  /** Set once the run began a rollback (see `CompensationInfo`). */
  compensation: RollbackRecord | null;
  /** The run's search attributes. */
  attributes: SearchAttributes;
}

/** A run's rollback record: what began it and, once it ended, what was undone and what failed. */
export interface RollbackRecord {
  cause: string;
  compensated?: string[];
  failures?: {
    step: string;
    compensation: string;
    errorClass: string | null;
    message: string | null;
  }[];
}

/** A step log (repeat ticks excepted). */
export interface StepRow {
  id: string;
  step_name: string;
  state: 'pending' | 'completed' | 'failed';
  attempts: number;
  started_at: Date | null;
  last_executed_at: Date | null;
  completed_at: Date | null;
  result: unknown;
  metadata: Record<string, unknown>;
  error_class: string | null;
  error_message: string | null;
}

/** An error-log row. */
export interface ErrorRow {
  id: string;
  step_name: string | null;
  attempt: number | null;
  error_class: string;
  error_message: string | null;
  backtrace: string | null;
  created_at: Date;
}

/** A branch with its children counted by state. */
export interface BranchRow {
  log_id: string;
  name: string;
  state: string;
  metadata: Record<string, unknown>;
  children: Partial<Record<WorkflowState, number>>;
}

/** One ancestor of a child run: the parent run and the branch that spawned the child. */
export interface Ancestor {
  id: string;
  key: string;
  workflow: string;
  branch: string;
}

/** A child run in the branch view. */
export interface ChildRow {
  id: string;
  key: string;
  workflow: string;
  state: WorkflowState;
  updated_at: Date;
}

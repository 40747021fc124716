import type { WorkflowRunDetail, WorkflowRunSummary, WorkflowState } from '@chronoforge/nestjs';

/** Body of `POST /orders`, `/retry` and `/cancel`. */
export interface OrderRunRef {
  key: string;
  id: string;
  state: WorkflowState;
}

/** One row of `GET /orders`. */
export interface OrderRunSummaryView extends OrderRunRef {
  attempt: number;
  createdAt: Date;
  completedAt: Date | null;
}

/** Body of `GET /orders/:key`. */
export interface OrderRunView extends OrderRunSummaryView {
  input: unknown;
  result: unknown;
  steps: Array<{ name: string; state: string; attempts: number }>;
  /** Child runs (one `orders.line.pack` per line), oldest first. */
  children: Array<{ key: string; workflow: string; state: WorkflowState }>;
  errors: Array<{
    stepName: string | null;
    attempt: number | null;
    errorClass: string;
    message: string | null;
  }>;
}

/** Maps a run summary to the list view. */
export function toSummaryView(run: WorkflowRunSummary): OrderRunSummaryView {
  return {
    key: run.key,
    id: run.id,
    state: run.state,
    attempt: run.attempt,
    createdAt: run.createdAt,
    completedAt: run.completedAt,
  };
}

/** Maps a run with its steps, error log and children to the detail view (no backtraces). */
export function toDetailView(
  run: WorkflowRunDetail,
  children: readonly WorkflowRunSummary[] = [],
): OrderRunView {
  return {
    ...toSummaryView(run),
    input: run.input,
    result: run.result,
    steps: run.steps.map((s) => ({ name: s.name, state: s.state, attempts: s.attempts })),
    children: [...children]
      .sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)))
      .map((c) => ({ key: c.key, workflow: c.workflow, state: c.state })),
    errors: run.errors.map((e) => ({
      stepName: e.stepName,
      attempt: e.attempt,
      errorClass: e.errorClass,
      message: e.message,
    })),
  };
}

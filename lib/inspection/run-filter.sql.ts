import type { WorkflowState } from '../database/entities/workflow.entity.js';

/** Which runs a list shows: every filter is optional; `before` is a run id (keyset, newest first). */
export interface RunFilter {
  states?: readonly WorkflowState[];
  workflow?: string;
  /** Keys starting with this text (matched literally: `%` and `_` are not wildcards). */
  keyPrefix?: string;
  before?: string;
}

/**
 * The `WHERE` condition of a run list over the runs table (its columns unqualified) and its
 * parameters `$1`..`$4`, shared by `WorkflowClient.list()` and the dashboard's run list.
 */
export function runFilterSql(f: RunFilter): { where: string; values: unknown[] } {
  const prefix =
    f.keyPrefix === undefined ? null : f.keyPrefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
  return {
    where: `($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR job_name = $2)
      AND ($3::text IS NULL OR key LIKE $3) AND ($4::bigint IS NULL OR id < $4)`,
    values: [f.states ?? null, f.workflow ?? null, prefix, f.before ?? null],
  };
}

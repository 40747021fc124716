import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';

/** Which runs a list shows: every filter is optional; `before` is a run id (keyset, newest first). */
export interface RunFilter {
  states?: readonly WorkflowState[];
  workflow?: string;
  /** Keys starting with this text (matched literally: `%` and `_` are not wildcards). */
  keyPrefix?: string;
  before?: string;
  /** Runs whose attributes contain all of these (checked by `checkAttributeFilter`). */
  attributes?: SearchAttributes;
}

/**
 * The `WHERE` condition of a run list over the runs table (its columns unqualified) and its
 * parameters `$1`..`$4` (and `$5`, the attributes, when filtered by them), shared by
 * `WorkflowClient.list()` and the dashboard's run list. The attribute test is a containment
 * (`attributes @> $5`), which the GIN index on `attributes` serves; it is left out of the text
 * when unused, so a prepared statement's generic plan never has to allow for both cases.
 */
export function runFilterSql(f: RunFilter): { where: string; values: unknown[] } {
  const prefix =
    f.keyPrefix === undefined ? null : f.keyPrefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
  const where = `($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR job_name = $2)
      AND ($3::text IS NULL OR key LIKE $3) AND ($4::bigint IS NULL OR id < $4)`;
  const values: unknown[] = [f.states ?? null, f.workflow ?? null, prefix, f.before ?? null];
  if (f.attributes === undefined) return { where, values };
  values.push(JSON.stringify(f.attributes));
  return { where: `${where} AND attributes @> $5::jsonb`, values };
}

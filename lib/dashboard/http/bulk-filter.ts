import type { WorkflowState } from '../../database/entities/workflow.entity.js';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { BulkFilter } from '../../inspection/run-list.store.js';
import { one, type QueryParams, stateOf } from './params.js';

const PAST = { retry: 'retried', cancel: 'cancelled' };

/**
 * The filter of a bulk action from a query or form, validated: `workflow` (required), `state`
 * (one of `allowed`, the states the action applies to; all of them when unset) and `key` (a key
 * prefix) and `ids` (the runs the confirmation listed; only its POST form carries them). `action` names the action in messages (`retry`, `cancel`).
 */
export function bulkFilter(
  src: QueryParams,
  allowed: readonly WorkflowState[],
  action: 'retry' | 'cancel',
): BulkFilter {
  const workflow = one(src, 'workflow');
  if (!workflow) throw new InvalidOptionsError(`Choose a workflow to ${action} runs of.`);
  const state = stateOf(src);
  if (state && !allowed.includes(state))
    throw new InvalidOptionsError(
      `Runs that are ${state} cannot be ${PAST[action]}; choose ${allowed.join(', ')}.`,
    );
  return { workflow, states: state ? [state] : allowed, key: one(src, 'key'), ids: idsOf(src) };
}

/** Most run ids one confirmation lists (the bulk actions' limit per click). */
const MAX_IDS = 1000;

/** The `ids` field: comma-separated run ids, at most {@link MAX_IDS}; `undefined` when unset. */
function idsOf(src: QueryParams): string[] | undefined {
  const v = src.ids;
  if (v === undefined) return undefined;
  const ids = typeof v === 'string' && v.length <= MAX_IDS * 19 ? v.split(',') : [];
  if (ids.length === 0 || ids.length > MAX_IDS || !ids.every((id) => /^\d{1,18}$/.test(id)))
    throw new InvalidOptionsError(`"ids" must list 1 to ${MAX_IDS} run ids, comma-separated.`);
  return ids;
}

/** The filter as the parameters of a link (the ones set; `ids` only in the confirmation's form). */
export function bulkParams(f: BulkFilter): Record<string, string> {
  const out: Record<string, string> = { workflow: f.workflow };
  if (f.states.length === 1) out.state = f.states[0];
  if (f.key) out.key = f.key;
  return out;
}

/**
 * What the confirmation of a bulk action states after its count: the action applies to the runs
 * counted here only (see {@link BulkFilter.upto}).
 */
export const BULK_SNAPSHOT_NOTE =
  'Only the runs counted here are acted on: a run that starts or reaches a matching state after this page was shown is left alone, and a counted run that has moved on by then is skipped.';

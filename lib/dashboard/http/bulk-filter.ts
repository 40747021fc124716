import type { WorkflowState } from '../../database/entities/workflow.entity.js';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { BulkFilter } from '../../inspection/run-list.store.js';
import { one, type QueryParams, stateOf } from './params.js';

const PAST = { retry: 'retried', cancel: 'cancelled' };

/**
 * The filter of a bulk action from a query or form, validated: `workflow` (required), `state`
 * (one of `allowed`, the states the action applies to; all of them when unset) and `key` (a key
 * prefix) and `upto` (the newest run id the confirmation counted; the POST form carries it). `action` names the action in messages (`retry`, `cancel`).
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
  const upto = one(src, 'upto');
  if (upto !== undefined && !/^\d{1,18}$/.test(upto))
    throw new InvalidOptionsError('"upto" must be a run id.');
  return { workflow, states: state ? [state] : allowed, key: one(src, 'key'), upto };
}

/** The filter as the parameters of a link (the ones set; `upto` only in the confirmation's form). */
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

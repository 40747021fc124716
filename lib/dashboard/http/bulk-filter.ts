import type { WorkflowState } from '../../database/entities/workflow.entity.js';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { BulkFilter } from '../../inspection/run-list.store.js';
import { one, type QueryParams, stateOf } from './params.js';

const PAST = { retry: 'retried', cancel: 'cancelled' };

/**
 * The filter of a bulk action from a query or form, validated: `workflow` (required), `state`
 * (one of `allowed`, the states the action applies to; all of them when unset) and `key` (a key
 * prefix). `action` names the action in messages (`retry`, `cancel`).
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
  return { workflow, states: state ? [state] : allowed, key: one(src, 'key') };
}

/** The filter as the parameters of a link or form (the ones set). */
export function bulkParams(f: BulkFilter): Record<string, string> {
  const out: Record<string, string> = { workflow: f.workflow };
  if (f.states.length === 1) out.state = f.states[0];
  if (f.key) out.key = f.key;
  return out;
}

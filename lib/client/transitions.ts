import type { WorkflowState } from '../database/entities/workflow.entity.js';

/** Every state change a run can make, and what causes it. */
export const TRANSITIONS: Readonly<Record<WorkflowState, readonly WorkflowState[]>> = {
  idle: ['running', 'cancelled'],
  running: ['idle', 'completed', 'failed', 'stalled', 'cancelled'],
  stalled: ['idle', 'cancelled'],
  failed: ['idle'],
  completed: [],
  cancelled: [],
};

/** Whether a run may move from `from` to `to`. */
export function canTransition(from: WorkflowState, to: WorkflowState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States from which an operator action is allowed: retry → idle, cancel → cancelled. */
export function allowedFrom(action: 'retry' | 'cancel'): WorkflowState[] {
  if (action === 'retry') return ['failed', 'stalled'];
  return (Object.keys(TRANSITIONS) as WorkflowState[]).filter((s) => canTransition(s, 'cancelled'));
}

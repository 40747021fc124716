import { RUN_STATES, type WorkflowState } from '../database/entities/workflow.entity.js';

/** Every state change a run can make, and what causes it. */
export const TRANSITIONS: Readonly<Record<WorkflowState, readonly WorkflowState[]>> = {
  idle: ['running', 'cancelled', 'compensating'],
  running: ['idle', 'completed', 'failed', 'stalled', 'cancelled', 'compensating'],
  stalled: ['idle', 'cancelled', 'compensating'],
  failed: ['idle', 'compensating'],
  // A completed child rolls back when its parent does (cause `byParent`).
  completed: ['compensating'],
  cancelled: [],
  // A rollback ends compensated, failed (a compensation failed) or, when the run had nothing to
  // compensate, in the state it replaced (cancelled; completed for a child of a rolled-back
  // parent). It is never cancelled from outside.
  compensating: ['compensated', 'failed', 'cancelled', 'completed'],
  compensated: [],
};

/** Whether a run may move from `from` to `to`. */
export function canTransition(from: WorkflowState, to: WorkflowState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * States from which an operator action is allowed: retry → idle, cancel → cancelled (a rollback
 * in progress is not cancelled), compensate → compensating (a run that ended without its
 * rollback, or whose compensations failed).
 */
export function allowedFrom(action: 'retry' | 'cancel' | 'compensate'): WorkflowState[] {
  if (action === 'retry') return ['failed', 'stalled'];
  if (action === 'compensate') return ['failed', 'stalled'];
  return RUN_STATES.filter((s) => s !== 'compensating' && canTransition(s, 'cancelled'));
}

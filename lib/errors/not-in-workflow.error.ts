import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A `WorkflowContext` method was called outside a running workflow.
 *
 * @publicApi
 */
export class NotInWorkflowError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_NOT_IN_WORKFLOW';
}

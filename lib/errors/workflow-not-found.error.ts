import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * No workflow or run matches the given name or key.
 *
 * @publicApi
 */
export class WorkflowNotFoundError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_WORKFLOW_NOT_FOUND';
}

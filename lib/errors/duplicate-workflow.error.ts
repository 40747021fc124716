import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Two `@Workflow()` methods registered the same name.
 *
 * @publicApi
 */
export class DuplicateWorkflowError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_DUPLICATE_WORKFLOW';
}

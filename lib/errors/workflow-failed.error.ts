import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Raised by `WorkflowHandle.result()` when the run ended `failed`, `stalled`, `cancelled` or
 * `compensated`.
 *
 * @publicApi
 */
export class WorkflowFailedError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_WORKFLOW_FAILED';

  constructor(
    readonly key: string,
    readonly state: string,
    readonly lastError?: { errorClass: string; message: string | null; stepName: string | null },
  ) {
    super(
      `Run "${key}" ended in state "${state}"` +
        (lastError
          ? `: ${lastError.errorClass}: ${lastError.message ?? ''}` +
            (lastError.stepName ? ` (step ${lastError.stepName})` : '')
          : ''),
    );
  }
}

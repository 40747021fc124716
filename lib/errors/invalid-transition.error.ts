import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The requested operation is not allowed in the run's current state, e.g. retrying a completed run.
 *
 * @publicApi
 */
export class InvalidTransitionError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INVALID_TRANSITION';

  constructor(
    readonly key: string,
    readonly from: string,
    readonly action: string,
    allowed: readonly string[],
    hint?: string,
  ) {
    super(
      hint
        ? `Cannot ${action} run "${key}" in state "${from}". ${hint}`
        : `Cannot ${action} run "${key}" in state "${from}". ` +
            `Only runs in state ${allowed.map((s) => `"${s}"`).join(' or ')} allow ${action}.`,
    );
  }
}

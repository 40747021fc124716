import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A step or workflow asked for a limit that no process declared (`forRoot({ limits })`) and
 * `client.limits.set()` never created.
 *
 * @publicApi
 */
export class UnknownLimitError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_UNKNOWN_LIMIT';

  constructor(readonly limit: string) {
    super(
      `Unknown limit "${limit}". Declare it in ChronoForgeModule.forRoot({ limits: { "${limit}": { concurrency: 1 } } }) or create it with client.limits.set("${limit}", …).`,
    );
  }
}

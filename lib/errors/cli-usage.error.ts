import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The `chronoforge` command line was called with an unknown command, a missing argument or an
 * invalid option; it prints the usage and exits with status 2.
 *
 * @publicApi
 */
export class CliUsageError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CLI_USAGE';
}

import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Raised when code reads `completed` or `failed` of a merge result whose branches have more
 * children than a merge lists inline: iterate the result with `for await` instead (keyset-paged,
 * constant memory).
 *
 * @publicApi
 */
export class MergeResultTooLargeError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_MERGE_RESULT_TOO_LARGE';
}

import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A search attribute (`ctx.setAttributes`, `start({ attributes })`, a `list({ attributes })`
 * filter) was refused: a key outside `[A-Za-z_][A-Za-z0-9_.-]*` (at most 64 characters), a value
 * that is not a string, finite number or boolean, a string over 256 characters or with control
 * characters, more keys than a run may hold, or a call from a transactional step. Nothing was
 * stored.
 *
 * @publicApi
 */
export class SearchAttributeError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_SEARCH_ATTRIBUTE';
}

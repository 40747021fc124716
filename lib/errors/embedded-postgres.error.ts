import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The embedded PostgreSQL server (`database: { embedded }`) could not be prepared, started or
 * stopped. The message says why and what to change; `cause` carries the underlying error.
 *
 * @publicApi
 */
export class EmbeddedPostgresError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_EMBEDDED_POSTGRES';
}

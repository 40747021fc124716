/**
 * Base class of every error ChronoForge raises on purpose. Each subclass has a stable `code`
 * so callers can branch on it without `instanceof` across package copies.
 *
 * @publicApi
 */
export abstract class ChronoForgeError extends Error {
  /** A stable, machine-readable identifier such as `CHRONOFORGE_INVALID_TRANSITION`. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

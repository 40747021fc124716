import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * `WorkflowClient.getEvent()` gave up waiting: the run had not set the event within `timeout`
 * (see also its subclass `EventNotSetError`: the run ended without setting it).
 *
 * @publicApi
 */
export class EventTimeoutError extends ChronoForgeError {
  readonly code: string = 'CHRONOFORGE_EVENT_TIMEOUT';

  constructor(
    /** The run's key. */
    readonly key: string,
    /** The event's name. */
    readonly event: string,
    timeoutMs: number,
    /** Replaces the default message (for subclasses such as `EventNotSetError`). */
    message?: string,
  ) {
    super(
      message ??
        `Run "${key}" did not set event "${event}" within ${timeoutMs} ms (ctx.setEvent("${event}", value)).`,
    );
  }
}

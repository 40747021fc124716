import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * `WorkflowClient.getEvent()` gave up waiting: the run had not set the event within `timeout`.
 *
 * @publicApi
 */
export class EventTimeoutError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_EVENT_TIMEOUT';

  constructor(
    /** The run's key. */
    readonly key: string,
    /** The event's name. */
    readonly event: string,
    timeoutMs: number,
  ) {
    super(
      `Run "${key}" did not set event "${event}" within ${timeoutMs} ms (ctx.setEvent("${event}", value)).`,
    );
  }
}

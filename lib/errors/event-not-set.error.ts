import { EventTimeoutError } from './event-timeout.error.js';

/**
 * `WorkflowClient.getEvent()` found the run ended (`completed`, `failed`, `stalled`, `cancelled`
 * or `compensated`) without having set the event: it fails at once instead of waiting out its
 * `timeout`. A subclass of {@link EventTimeoutError}, so code that catches the timeout catches it
 * too. A run that ended `failed` or `stalled` may still set the event once `client.retry` runs it
 * again; one that ended otherwise never will.
 *
 * @publicApi
 */
export class EventNotSetError extends EventTimeoutError {
  override readonly code: string = 'CHRONOFORGE_EVENT_NOT_SET';

  constructor(
    key: string,
    event: string,
    /** The state the run ended in. */
    readonly state: string,
  ) {
    const retryable = state === 'failed' || state === 'stalled';
    super(
      key,
      event,
      0,
      `Run "${key}" ended ${state} without setting event "${event}"${retryable ? ': it can only set it if client.retry runs it again' : ', so it never will'}.`,
    );
  }
}

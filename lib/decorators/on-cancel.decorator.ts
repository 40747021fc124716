import { SetMetadata } from '@nestjs/common';
import { ON_CANCEL_METADATA } from '../options/chrono-forge.constants.js';
import type { OnCancelOptions } from '../options/on-cancel-options.interface.js';

/**
 * Makes a method of a workflow's provider the durable cleanup of that workflow's cancelled runs.
 * When a run is cancelled (`client.cancel()`, its parent's cancel with `children`, or its
 * deadline with `onTimeout: 'cancel'`), the method runs once as the durable step `$oncancel$`,
 * after the run's rollback if it rolls back, retried by `retry`, resumed by another worker after
 * a crash. It receives the workflow's input and a {@link CancelInfo}; `ctx` works as in a step
 * body. Checked at bootstrap (`InvalidOnCancelError`): at most one per workflow, on a plain method.
 *
 * @example
 * ```ts
 * @OnCancel({ retry: new RetryPolicy({ maxAttempts: 5 }), timeout: '30s' })
 * async releaseHold(order: Order, info: CancelInfo): Promise<void> {
 *   await this.psp.voidHold(order.id, { reason: info.reason ?? 'cancelled' });
 * }
 * ```
 * @publicApi
 */
export function OnCancel(options: OnCancelOptions = {}): MethodDecorator {
  return SetMetadata(ON_CANCEL_METADATA, { ...options });
}

import { SetMetadata } from '@nestjs/common';
import { REPEAT_METADATA } from '../options/chrono-forge.constants.js';
import type {
  RepeatEvery,
  RepeatMetadata,
  RepeatOptions,
} from '../options/workflow-options.interface.js';

/**
 * Makes a provider method a durable periodic task (chrono_forge's `durably_repeat`). Called inside
 * a workflow, it runs on the grid `startAt + k·every` until `till` holds; each tick is the step
 * `durably_repeat$<name>$<epoch-ms>` and the method receives the tick's scheduled time as its last
 * argument. Outside a workflow it is a plain call.
 *
 * @example
 * ```ts
 * @Repeat('1d', { till: 'isDelivered', timeout: '1h' })
 * async remind(input: OrderInput, scheduledAt: Date) { ... }
 * ```
 * @publicApi
 */
export function Repeat(every: RepeatEvery, options: RepeatOptions = {}): MethodDecorator {
  return SetMetadata(REPEAT_METADATA, { ...options, every } satisfies RepeatMetadata);
}

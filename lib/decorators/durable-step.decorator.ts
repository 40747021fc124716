import { SetMetadata } from '@nestjs/common';
import { STEP_METADATA } from '../options/chrono-forge.constants.js';
import type { StepOptions } from '../options/workflow-options.interface.js';

/**
 * Makes a provider method a memoized durable step (`step$<name>`). Inside a running workflow the
 * first completion stores its result and replays return it without calling the method; outside a
 * workflow it is a plain call. The n-th call in one run is `step$<name>#<n>`.
 *
 * @publicApi
 */
export function DurableStep(options?: StepOptions): MethodDecorator;
/** @publicApi */
export function DurableStep(name: string, options?: Omit<StepOptions, 'name'>): MethodDecorator;
export function DurableStep(
  nameOrOptions?: string | StepOptions,
  options: StepOptions = {},
): MethodDecorator {
  const normalized: StepOptions =
    typeof nameOrOptions === 'string'
      ? { ...options, name: nameOrOptions }
      : { ...(nameOrOptions ?? {}) };
  return SetMetadata(STEP_METADATA, normalized);
}

import { SetMetadata } from '@nestjs/common';
import { WORKFLOW_METADATA } from '../options/chrono-forge.constants.js';
import type { WorkflowOptions } from '../options/workflow-options.interface.js';

/**
 * Marks a provider method as a workflow entry point named `<Class>.<method>`.
 *
 * @publicApi
 */
export function Workflow(options?: WorkflowOptions): MethodDecorator;
/**
 * Marks a provider method as a workflow entry point with a stable, persisted name. Give it
 * explicitly: renaming a class must not orphan runs in flight.
 *
 * @example @Workflow('orders.fulfil', { maxDuration: '10m', input: FulfilOrderInput })
 * @publicApi
 */
export function Workflow(name: string, options?: Omit<WorkflowOptions, 'name'>): MethodDecorator;
export function Workflow(
  nameOrOptions?: string | WorkflowOptions,
  options: WorkflowOptions = {},
): MethodDecorator {
  const normalized: WorkflowOptions =
    typeof nameOrOptions === 'string'
      ? { ...options, name: nameOrOptions }
      : { ...(nameOrOptions ?? {}) };
  return SetMetadata(WORKFLOW_METADATA, normalized);
}

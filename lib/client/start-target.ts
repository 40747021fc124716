import type { Type } from '@nestjs/common';
import type { WorkflowDefinition, WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { describeValue } from '../util/describe.util.js';

/**
 * The workflow `client.start` names: by name, or by (class, method) for a typed start. Throws
 * `InvalidOptionsError` for anything else and `WorkflowNotFoundError` when none is registered.
 */
export function startTarget(
  registry: WorkflowRegistry,
  nameOrTarget: string | Type<object>,
  methodOrOptions: unknown,
): WorkflowDefinition {
  const def =
    typeof nameOrTarget === 'string'
      ? registry.get(nameOrTarget)
      : typeof nameOrTarget === 'function' && typeof methodOrOptions === 'string'
        ? registry.findByMethod(nameOrTarget, methodOrOptions)
        : undefined;
  if (typeof nameOrTarget !== 'string' && typeof nameOrTarget !== 'function') {
    throw new InvalidOptionsError(
      `start() needs a workflow name or a (class, method) pair, got ${describeValue(nameOrTarget)}.`,
    );
  }
  const label =
    typeof nameOrTarget === 'string'
      ? nameOrTarget
      : `${nameOrTarget.name}#${typeof methodOrOptions === 'string' ? methodOrOptions : describeValue(methodOrOptions)}`;
  if (!def) {
    throw new WorkflowNotFoundError(
      `No workflow ${JSON.stringify(label)} is registered in this application. Known: ${registry.names().join(', ') || '(none)'}.`,
    );
  }
  return def;
}

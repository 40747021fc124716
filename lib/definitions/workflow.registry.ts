import { Injectable, type Type } from '@nestjs/common';
import { DuplicateWorkflowError } from '../errors/duplicate-workflow.error.js';
import type { RetryStrategy } from '../retry/retry-policy.js';
import type { RunLimits } from '../options/limit-options.js';
import type { RunFlow } from '../options/flow-options.js';
import type { WorkflowLifecycle } from './lifecycle-options.js';
import type { SignalPayloadTypes } from './signal-payloads.js';
import type { OnCancelDefinition } from './on-cancel-definition.js';
import type { WorkflowInterceptorClass } from '../options/workflow-interceptor.interface.js';

/** A discovered `@Workflow()` method, ready to execute. */
export interface WorkflowDefinition extends WorkflowLifecycle {
  name: string;
  target: Type<unknown>;
  methodName: string;
  maxDurationMs: number;
  retry?: RetryStrategy;
  inputType?: Type<object>;
  /** `@Workflow({ signals })`: the payload DTO of each declared signal. */
  signalTypes?: SignalPayloadTypes;
  /** `@Workflow({ version })`: runs started here keep it; only workers that have it run them. */
  version?: string;
  /** Run-level limits (`@Workflow({ concurrency, rate })`). */
  limits?: RunLimits;
  /** Start rules (`@Workflow({ singleton, debounce, priority })`). */
  flow?: RunFlow;
  /** `@OnCancel()`: the durable cleanup of its cancelled runs. */
  onCancel?: OnCancelDefinition;
  /** `@UseWorkflowInterceptors()` of the workflow (class's, then method's); none when absent. */
  interceptors?: readonly WorkflowInterceptorClass[];
  /** The stored input as the method receives it (an instance of `inputType` when there is one). */
  toInput(input: unknown): unknown;
  invoke(input: unknown): Promise<unknown>;
}

/** Workflow definitions by name. */
@Injectable()
export class WorkflowRegistry {
  private readonly byName = new Map<string, WorkflowDefinition>();

  add(def: WorkflowDefinition): void {
    const existing = this.byName.get(def.name);
    if (existing) {
      throw new DuplicateWorkflowError(
        `Workflow name "${def.name}" is used by both ${existing.target.name}#${existing.methodName} and ` +
          `${def.target.name}#${def.methodName}. Give one of them another name in @Workflow('<name>').`,
      );
    }
    this.byName.set(def.name, def);
  }

  get(name: string): WorkflowDefinition | undefined {
    return this.byName.get(name);
  }

  /** Finds the workflow declared on `target.prototype[methodName]`. */
  findByMethod(target: Type<unknown>, methodName: string): WorkflowDefinition | undefined {
    for (const def of this.byName.values()) {
      if (
        def.methodName === methodName &&
        (def.target === target || target.prototype instanceof def.target)
      )
        return def;
    }
    return undefined;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

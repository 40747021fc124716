import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  BRANCH_METADATA,
  INTERCEPTORS_METADATA,
  ON_CANCEL_METADATA,
  REPEAT_METADATA,
  SCHEDULED_METADATA,
  STEP_METADATA,
  WORKFLOW_METADATA,
} from '../options/chrono-forge.constants.js';
import type {
  BranchOptions,
  RepeatMetadata,
  StepOptions,
  WorkflowOptions,
} from '../options/workflow-options.interface.js';
import type { OnCancelOptions } from '../options/on-cancel-options.interface.js';
import type { ScheduledMetadata } from '../schedules/schedule.interface.js';
import type { WorkflowInterceptorClass } from '../options/workflow-interceptor.interface.js';

/** The only reader of ChronoForge's decorator metadata. */
@Injectable()
export class WorkflowMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getWorkflow(target: unknown): WorkflowOptions | undefined {
    return typeof target === 'function' ? this.reflector.get(WORKFLOW_METADATA, target) : undefined;
  }

  getRepeat(target: unknown): RepeatMetadata | undefined {
    return typeof target === 'function' ? this.reflector.get(REPEAT_METADATA, target) : undefined;
  }

  getBranch(target: unknown): BranchOptions | undefined {
    return typeof target === 'function' ? this.reflector.get(BRANCH_METADATA, target) : undefined;
  }

  getScheduled(target: unknown): ScheduledMetadata | undefined {
    return typeof target === 'function'
      ? this.reflector.get(SCHEDULED_METADATA, target)
      : undefined;
  }

  getStep(target: unknown): StepOptions | undefined {
    return typeof target === 'function' ? this.reflector.get(STEP_METADATA, target) : undefined;
  }

  /** `@UseWorkflowInterceptors()` of a workflow: its class's, then its method's. */
  getInterceptors(type: unknown, method: unknown): WorkflowInterceptorClass[] {
    const of = (target: unknown): WorkflowInterceptorClass[] =>
      (typeof target === 'function' && this.reflector.get(INTERCEPTORS_METADATA, target)) || [];
    return [...of(type), ...of(method)];
  }

  getOnCancel(target: unknown): OnCancelOptions | undefined {
    return typeof target === 'function'
      ? this.reflector.get(ON_CANCEL_METADATA, target)
      : undefined;
  }
}

import { Inject, Injectable, Logger, type OnModuleInit, type Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { DurableMethods } from '../context/durable-methods.js';
import {
  type DurableMethodDefinition,
  toBranchDefinition,
  toRepeatDefinition,
  toStepDefinition,
  toWorkflowDefinition,
} from '../definitions/method-definitions.js';
import {
  assignOnCancel,
  type FoundOnCancel,
  toOnCancel,
} from '../definitions/on-cancel-definition.js';
import { type WorkflowDefinition, WorkflowRegistry } from '../definitions/workflow.registry.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { InvalidInterceptorError } from '../errors/invalid-interceptor.error.js';
import { activeScope } from '../run/run-scope.js';
import { reviveScheduledInput } from '../schedules/schedule-spec.js';
import type { ScheduledMetadata } from '../schedules/schedule.interface.js';
import { ScheduleRegistry } from '../schedules/schedule.registry.js';
import { WorkflowMetadataAccessor } from './workflow-metadata.accessor.js';
import { WorkflowInterceptors } from '../interceptors/workflow-interceptors.js';

type Method = (...args: unknown[]) => unknown;

/** What discovery found: workflow definitions and the decorated methods to make durable. */
export interface DiscoveredDefinitions {
  workflows: WorkflowDefinition[];
  methods: DurableMethodDefinition[];
  /** `@Scheduled()` declarations, by the name of the workflow they start. */
  schedules: { workflow: string; meta: ScheduledMetadata; where: string }[];
}

/**
 * Finds `@Workflow()`, `@DurableStep()`, `@Repeat()`, `@Branch()`, `@Scheduled()` and `@OnCancel()` methods on singleton
 * providers at module init and turns their options into ready definitions (checked and parsed
 * once, here). It wraps nothing itself: the workflows go to the `WorkflowRegistry`, the durable
 * methods to `DurableMethods`.
 */
@Injectable()
export class WorkflowExplorer implements OnModuleInit {
  private readonly logger = new Logger('ChronoForge');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: WorkflowMetadataAccessor,
    private readonly registry: WorkflowRegistry,
    private readonly durableMethods: DurableMethods,
    private readonly schedules: ScheduleRegistry,
    private readonly interceptors: WorkflowInterceptors,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    const { workflows, methods, schedules } = this.explore();
    this.durableMethods.install(methods);
    for (const workflow of workflows) this.registry.add(workflow);
    for (const { workflow, meta, where } of schedules)
      this.schedules.declare(workflow, meta.cron, meta, where);
    // NOTE: in onModuleInit, so every interceptor is resolved before any worker starts a pass.
    await this.interceptors.resolve(workflows);
  }

  /** Collects the definitions of every decorated method (throws on invalid options). */
  explore(): DiscoveredDefinitions {
    const found: DiscoveredDefinitions = { workflows: [], methods: [], schedules: [] };
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      if (!instance || typeof instance !== 'object' || !metatype) continue;
      const proto = Object.getPrototypeOf(instance) as Record<string, unknown>;
      const provider = { workflows: [] as WorkflowDefinition[], onCancel: [] as FoundOnCancel[] };
      for (const methodName of this.scanner.getAllMethodNames(proto)) {
        const method = proto[methodName];
        const workflow = this.accessor.getWorkflow(method);
        const step = this.accessor.getStep(method);
        const repeat = this.accessor.getRepeat(method);
        const branch = this.accessor.getBranch(method);
        const scheduled = this.accessor.getScheduled(method);
        const onCancel = this.accessor.getOnCancel(method);
        const where = `${(metatype as Type).name}#${methodName}`;
        if (!workflow && this.accessor.getInterceptors(undefined, method).length > 0)
          throw new InvalidInterceptorError(
            `@UseWorkflowInterceptors() on ${where} needs @Workflow() on the same method; put it ` +
              'on the class to wrap every workflow of the provider.',
          );
        if (!workflow && !step && !repeat && !branch && !scheduled && !onCancel) continue;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(
            `Skipping ${where}: workflows and steps must live on singleton providers.`,
          );
          continue;
        }
        if (onCancel) {
          const decorated = Boolean(workflow || step || repeat || branch);
          provider.onCancel.push(toOnCancel(instance, methodName, onCancel, where, decorated));
        }
        if (step || repeat || branch) {
          found.methods.push({
            instance,
            methodName,
            step: step && toStepDefinition(instance, methodName, step, where),
            repeat: repeat && toRepeatDefinition(instance, methodName, repeat, where),
            branch: branch && toBranchDefinition(methodName, branch, where),
          });
        }
        if (scheduled && !workflow)
          throw new InvalidOptionsError(
            `@Scheduled on ${where} needs @Workflow on the same method.`,
          );
        if (workflow) {
          const definition = withScheduledInput(
            toWorkflowDefinition(
              metatype as Type,
              instance,
              methodName,
              method as Method,
              workflow,
              this.options.maxDurationMs,
            ),
          );
          const interceptors = this.accessor.getInterceptors(metatype, method);
          if (interceptors.length > 0) definition.interceptors = interceptors;
          found.workflows.push(definition);
          provider.workflows.push(definition);
          if (scheduled)
            found.schedules.push({ workflow: definition.name, meta: scheduled, where });
        }
      }
      const names = provider.workflows.map((w) => w.name);
      const type = metatype as Type;
      if (names.length === 0 && wrapper.isDependencyTreeStatic() && this.wrapsNothing(type))
        throw new InvalidInterceptorError(
          `@UseWorkflowInterceptors() on ${type.name} wraps no workflow: it has no @Workflow() ` +
            'method (a step provider is wrapped by the interceptors of the workflows calling it).',
        );
      const cleanups = assignOnCancel((metatype as Type).name, names, provider.onCancel);
      for (const definition of provider.workflows)
        definition.onCancel = cleanups.get(definition.name);
    }
    return found;
  }

  private wrapsNothing(type: Type): boolean {
    return this.accessor.getInterceptors(type, undefined).length > 0;
  }
}

/**
 * A run started by a schedule (any workflow can be the target of `client.schedules.create`) gets
 * its `scheduledAt` back as a `Date` (see `reviveScheduledInput`).
 */
function withScheduledInput(definition: WorkflowDefinition): WorkflowDefinition {
  const invoke = definition.invoke;
  return {
    ...definition,
    invoke: (stored) => invoke(reviveScheduledInput(activeScope()?.run.key, stored)),
  };
}

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
import { type WorkflowDefinition, WorkflowRegistry } from '../definitions/workflow.registry.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { WorkflowMetadataAccessor } from './workflow-metadata.accessor.js';

type Method = (...args: unknown[]) => unknown;

/** What discovery found: workflow definitions and the decorated methods to make durable. */
export interface DiscoveredDefinitions {
  workflows: WorkflowDefinition[];
  methods: DurableMethodDefinition[];
}

/**
 * Finds `@Workflow()`, `@DurableStep()`, `@Repeat()` and `@Branch()` methods on singleton
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
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  onModuleInit(): void {
    const { workflows, methods } = this.explore();
    this.durableMethods.install(methods);
    for (const workflow of workflows) this.registry.add(workflow);
  }

  /** Collects the definitions of every decorated method (throws on invalid options). */
  explore(): DiscoveredDefinitions {
    const found: DiscoveredDefinitions = { workflows: [], methods: [] };
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      if (!instance || typeof instance !== 'object' || !metatype) continue;
      const proto = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const methodName of this.scanner.getAllMethodNames(proto)) {
        const method = proto[methodName];
        const workflow = this.accessor.getWorkflow(method);
        const step = this.accessor.getStep(method);
        const repeat = this.accessor.getRepeat(method);
        const branch = this.accessor.getBranch(method);
        if (!workflow && !step && !repeat && !branch) continue;
        const where = `${(metatype as Type).name}#${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(
            `Skipping ${where}: workflows and steps must live on singleton providers.`,
          );
          continue;
        }
        if (step || repeat || branch) {
          found.methods.push({
            instance,
            methodName,
            step: step && toStepDefinition(methodName, step, where),
            repeat: repeat && toRepeatDefinition(instance, methodName, repeat, where),
            branch: branch && toBranchDefinition(methodName, branch, where),
          });
        }
        if (workflow) {
          found.workflows.push(
            toWorkflowDefinition(
              metatype as Type,
              instance,
              methodName,
              method as Method,
              workflow,
              this.options.maxDurationMs,
            ),
          );
        }
      }
    }
    return found;
  }
}

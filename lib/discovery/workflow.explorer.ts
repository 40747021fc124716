import { Inject, Injectable, Logger, type OnModuleInit, type Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../chrono-forge.constants.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { toRetryStrategy } from '../executor/retry-policy.js';
import { StepRunner } from '../executor/step.runner.js';
import type { StepOptions } from '../interfaces/workflow-options.interface.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import { toMs } from '../util/duration.util.js';
import { assertUserName } from '../util/names.util.js';
import { WorkflowMetadataAccessor } from './workflow-metadata.accessor.js';
import { WorkflowRegistry } from './workflow.registry.js';

type Method = (...args: unknown[]) => unknown;

/**
 * Finds `@Workflow()` and `@DurableStep()` methods on singleton providers at module init,
 * registers workflows and wraps step methods on their instance so calls inside a run are durable.
 */
@Injectable()
export class WorkflowExplorer implements OnModuleInit {
  private readonly logger = new Logger('ChronoForge');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: WorkflowMetadataAccessor,
    private readonly registry: WorkflowRegistry,
    private readonly steps: StepRunner,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      if (!instance || typeof instance !== 'object' || !metatype) continue;
      const proto = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const methodName of this.scanner.getAllMethodNames(proto)) {
        const method = proto[methodName];
        const workflow = this.accessor.getWorkflow(method);
        const step = this.accessor.getStep(method);
        if (!workflow && !step) continue;
        const where = `${(metatype as Type).name}#${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(`Skipping ${where}: workflows and steps must live on singleton providers.`);
          continue;
        }
        if (step) this.wrapStep(instance as Record<string, Method>, methodName, step, where);
        if (workflow) {
          const name = workflow.name ?? `${(metatype as Type).name}.${methodName}`;
          assertUserName(name, `Workflow (${where})`);
          const inputType = workflow.input;
          if (inputType !== undefined && typeof inputType !== 'function') {
            throw new InvalidOptionsError(`@Workflow input of ${where} must be a class.`);
          }
          const original = proto[methodName] as Method;
          this.registry.add({
            name,
            target: metatype as Type,
            methodName,
            maxDurationMs: workflow.maxDuration !== undefined ? toMs(workflow.maxDuration, `maxDuration of ${where}`) : this.options.maxDurationMs,
            retry: toRetryStrategy(workflow.retry, `retry of ${where}`),
            inputType,
            invoke: async (input) =>
              original.call(instance, inputType && input !== null && typeof input === 'object' ? plainToInstance(inputType, input) : input),
          });
        }
      }
    }
  }

  private wrapStep(instance: Record<string, Method>, methodName: string, options: StepOptions, where: string): void {
    const name = options.name ?? methodName;
    assertUserName(name, `Step (${where})`);
    toRetryStrategy(options.retry, `retry of ${where}`);
    const original = instance[methodName];
    const steps = this.steps;
    instance[methodName] = function durableStep(this: unknown, ...args: unknown[]) {
      return steps.run(name, () => original.apply(this, args), options);
    };
  }
}

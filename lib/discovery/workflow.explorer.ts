import { Inject, Injectable, Logger, type OnModuleInit, type Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { toRetryStrategy } from '../retry/retry-policy.js';
import { StepRunner } from '../steps/step.runner.js';
import { activeScope } from '../run/run-scope.js';
import type { RepeatMetadata } from '../decorators/repeat.decorator.js';
import type { BranchOptions } from '../decorators/branch.decorator.js';
import { BranchRunner } from '../branches/branch.runner.js';
import { RepeatSchedule } from '../definitions/repeat-schedule.js';
import { RepeatRunner } from '../timers/repeat.runner.js';
import type { StepOptions } from '../options/workflow-options.interface.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { toMaxDurationMs, toMs } from '../util/duration.util.js';
import { assertUserName } from '../util/names.util.js';
import { WorkflowMetadataAccessor } from './workflow-metadata.accessor.js';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import {
  stepCompensation,
  toTimeoutMs,
  workflowLifecycle,
} from '../definitions/lifecycle-options.js';

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
    private readonly repeats: RepeatRunner,
    private readonly branches: BranchRunner,
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
        if (step) this.wrapStep(instance as Record<string, Method>, methodName, step, where);
        if (repeat) this.wrapRepeat(instance as Record<string, Method>, methodName, repeat, where);
        if (branch) this.wrapBranch(instance as Record<string, Method>, methodName, branch, where);
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
            maxDurationMs:
              workflow.maxDuration !== undefined
                ? toMaxDurationMs(workflow.maxDuration, `maxDuration of ${where}`)
                : this.options.maxDurationMs,
            retry: toRetryStrategy(workflow.retry, `retry of ${where}`),
            inputType,
            ...workflowLifecycle(workflow, where),
            invoke: async (input) =>
              original.call(
                instance,
                inputType && input !== null && typeof input === 'object'
                  ? plainToInstance(inputType, input)
                  : input,
              ),
          });
        }
      }
    }
  }

  private wrapBranch(
    instance: Record<string, Method>,
    methodName: string,
    options: BranchOptions,
    where: string,
  ): void {
    const name = options.name ?? methodName;
    assertUserName(name, `Branch (${where})`);
    if (name.includes(','))
      throw new InvalidOptionsError(`Branch name of ${where} contains ",", the merge separator.`);
    const original = instance[methodName];
    const branches = this.branches;
    instance[methodName] = function durableBranch(this: object, ...args: unknown[]) {
      const scope = activeScope();
      if (!scope) return original.apply(this, args);
      return scope.track(() =>
        branches.branch(scope, name, options.automerge === true, async () =>
          original.apply(this, args),
        ),
      );
    };
  }

  private wrapRepeat(
    instance: Record<string, Method>,
    methodName: string,
    meta: RepeatMetadata,
    where: string,
  ): void {
    const name = meta.name ?? methodName;
    assertUserName(name, `Repeat (${where})`);
    new RepeatSchedule(meta.every, 0, meta.timeZone);
    toMs(meta.timeout ?? '1h', `timeout of ${where}`);
    toRetryStrategy(meta.retry, `retry of ${where}`);
    if (meta.onError !== undefined && meta.onError !== 'continue' && meta.onError !== 'fail') {
      throw new InvalidOptionsError(`@Repeat onError of ${where} must be 'continue' or 'fail'.`);
    }
    if (typeof meta.till === 'string' && typeof instance[meta.till] !== 'function') {
      throw new InvalidOptionsError(
        `@Repeat till of ${where} names "${meta.till}", which is not a method of the provider.`,
      );
    }
    if (
      meta.startAt !== undefined &&
      (!(meta.startAt instanceof Date) || Number.isNaN(meta.startAt.getTime()))
    ) {
      throw new InvalidOptionsError(`@Repeat startAt of ${where} must be a valid Date.`);
    }
    const original = instance[methodName];
    const repeats = this.repeats;
    instance[methodName] = function durableRepeat(this: object, ...args: unknown[]) {
      const scope = activeScope();
      if (!scope) return original.apply(this, args);
      return scope.track(() => repeats.run(scope, name, this, original, args, meta));
    };
  }

  private wrapStep(
    instance: Record<string, Method>,
    methodName: string,
    options: StepOptions,
    where: string,
  ): void {
    const name = options.name ?? methodName;
    assertUserName(name, `Step (${where})`);
    toRetryStrategy(options.retry, `retry of ${where}`);
    toRetryStrategy(options.compensateRetry, `compensateRetry of ${where}`);
    toTimeoutMs(options.timeout, `timeout of ${where}`);
    const compensate = stepCompensation(instance, options.compensate, where);
    const original = instance[methodName];
    const steps = this.steps;
    instance[methodName] = function durableStep(this: unknown, ...args: unknown[]) {
      const undo = compensate && ((result: unknown) => compensate.call(this, ...args, result));
      return steps.run(name, () => original.apply(this, args), options, undo);
    };
  }
}

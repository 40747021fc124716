import { Inject, Injectable, Logger, Scope } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import { InvalidInterceptorError } from '../errors/invalid-interceptor.error.js';
import { COMPENSATION_PREFIX } from '../lifecycle/compensations.js';
import { ON_CANCEL_STEP } from '../lifecycle/on-cancel.js';
import { attemptSignal, isPassAbort } from '../lifecycle/abort-signals.js';
import { AbortWatcher } from '../lifecycle/abort-watcher.js';
import type { PassOutcome } from '../observability/chrono-forge-metrics.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import { hasInterceptorMethod } from '../options/interceptor-classes.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type {
  PassInvocation,
  StepInvocation,
  StepKind,
  WorkflowInterceptor,
  WorkflowInterceptorClass,
} from '../options/workflow-interceptor.interface.js';
import type { RunScope } from '../run/run-scope.js';
import { type ChainLink, type ChainRun, runChain } from './interceptor-chain.js';
import { engineContext } from './engine-context.js';

/** A pass the interceptors refused: it ends as if the workflow method had thrown `error`. */
export interface PassRefusal {
  error: unknown;
}

/**
 * The workflow interceptors (`forRoot({ interceptors })`, `@UseWorkflowInterceptors()`), resolved
 * at bootstrap into one chain per workflow, and the two places they run: around a pass and around
 * an executed step attempt. A workflow without interceptors costs one map lookup per call.
 */
@Injectable()
export class WorkflowInterceptors {
  private readonly logger = new Logger('ChronoForgeInterceptors');
  private readonly passChains = new Map<string, ChainLink[]>();
  private readonly stepChains = new Map<string, ChainLink[]>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly watcher: AbortWatcher,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Resolves the interceptors of `workflows` (global ones first); one instance per class. */
  async resolve(workflows: readonly WorkflowDefinition[]): Promise<void> {
    const instances = new Map<WorkflowInterceptorClass, Promise<WorkflowInterceptor>>();
    const instanceOf = (type: WorkflowInterceptorClass) => {
      let instance = instances.get(type);
      if (!instance) instances.set(type, (instance = this.instantiate(type)));
      return instance;
    };
    for (const workflow of workflows) {
      const types = [...new Set([...this.options.interceptors, ...(workflow.interceptors ?? [])])];
      const links = await Promise.all(
        types.map(async (type) => ({ interceptor: await instanceOf(type), name: type.name })),
      );
      const pass = links.filter((l) => typeof l.interceptor.interceptPass === 'function');
      const step = links.filter((l) => typeof l.interceptor.interceptStep === 'function');
      if (pass.length > 0) this.passChains.set(workflow.name, pass);
      if (step.length > 0) this.stepChains.set(workflow.name, step);
    }
  }

  /** The provider registered as `type`, or else a new instance with its dependencies injected. */
  private async instantiate(type: WorkflowInterceptorClass): Promise<WorkflowInterceptor> {
    let instance: unknown;
    const scope = this.scopeOf(type);
    if (scope === Scope.REQUEST)
      throw new InvalidInterceptorError(
        `Workflow interceptor ${type.name} is request-scoped (or depends on a request-scoped ` +
          'provider): passes run in workers, outside any request. Make it a singleton.',
      );
    try {
      instance =
        scope === Scope.TRANSIENT
          ? await this.moduleRef.resolve(type, undefined, { strict: false })
          : this.moduleRef.get(type, { strict: false });
    } catch {
      try {
        instance = await this.moduleRef.create(type);
      } catch (err) {
        throw new InvalidInterceptorError(
          `Workflow interceptor ${type.name} could not be created (${(err as Error)?.message}). ` +
            'Register it as a provider of the module that holds its dependencies.',
          { cause: err },
        );
      }
    }
    if (!hasInterceptorMethod(instance))
      throw new InvalidInterceptorError(
        `The provider registered as ${type.name} has neither interceptPass() nor interceptStep().`,
      );
    return instance as WorkflowInterceptor;
  }

  /** The scope of the provider registered as `type`; undefined when none is. */
  private scopeOf(type: WorkflowInterceptorClass): Scope | undefined {
    try {
      return this.moduleRef.introspect(type).scope;
    } catch {
      return undefined;
    }
  }

  /** Whether workflow `name` has pass interceptors (which may refuse a pass before it replays). */
  wrapsPasses(name: string): boolean {
    return this.passChains.has(name);
  }

  /**
   * Runs pass `run` of `scope` through its workflow's pass interceptors (`wrapped`: a pass that
   * replays the workflow method, not a rollback). A chain that fails before `next()` ran the pass
   * runs it refused instead; one that fails after is logged, the recorded pass stands.
   */
  async pass(
    scope: RunScope,
    wrapped: boolean,
    run: (refusal?: PassRefusal) => Promise<PassOutcome | undefined>,
  ): Promise<PassOutcome | undefined> {
    const links = wrapped ? this.passChains.get(scope.definition.name) : undefined;
    if (!links) return run();
    const { run: row } = scope;
    const invocation: PassInvocation = withInput(row.input, {
      workflow: row.job_name,
      key: row.key,
      runId: row.id,
      attempt: row.attempt + 1,
    });
    let ran: Promise<PassOutcome | undefined> | undefined;
    const chain: ChainRun = { misuse: undefined };
    let failure: { error: unknown } | undefined;
    // NOTE: watched until next(), as a step body is: a cancel or takeover while an interceptor
    // awaits before it marks the pass lost, so the method it then replays runs no step body.
    let unwatch: (() => void) | undefined = this.watcher.watch(scope, false);
    const stopWatching = () => {
      unwatch?.();
      unwatch = undefined;
    };
    const last = () => {
      stopWatching();
      return (ran = run()).then(outcomeOf);
    };
    try {
      await runChain(links, 'interceptPass', invocation, last, chain);
    } catch (error) {
      failure = { error };
    } finally {
      stopWatching();
    }
    if (!ran) return run(failure ?? { error: chain.misuse });
    const outcome = await ran;
    const error = chain.misuse ?? failure?.error;
    if (error !== undefined)
      this.logger.error(
        `A pass interceptor of run ${row.id} ("${row.key}") failed after the pass was recorded ` +
          `(${outcome ?? 'crashed'}): ${(error as Error)?.message ?? String(error)}`,
      );
    return outcome;
  }

  /**
   * Runs attempt `attempt` of step `stepName`'s `body` through its workflow's step interceptors.
   * The attempt's outcome is the body's (its result, or its error even when an interceptor caught
   * it), unless an interceptor threw or broke the `next()` contract.
   */
  step<T>(
    scope: RunScope,
    stepName: string,
    attempt: number,
    body: () => T | Promise<T>,
    kind?: StepKind,
  ): T | Promise<T> {
    const links = this.stepChains.get(scope.definition.name);
    if (!links) return body();
    return this.intercepted(links, scope, stepName, attempt, body, kind ?? kindOf(stepName));
  }

  private async intercepted<T>(
    links: readonly ChainLink[],
    scope: RunScope,
    stepName: string,
    attempt: number,
    body: () => T | Promise<T>,
    kind: StepKind,
  ): Promise<T> {
    const { run: row } = scope;
    const invocation: StepInvocation = withInput(row.input, {
      workflow: row.job_name,
      key: row.key,
      runId: row.id,
      step: stepName,
      kind,
      attempt,
    });
    let ran: Promise<T> | undefined;
    const chain: ChainRun = { misuse: undefined };
    let failure: { error: unknown } | undefined;
    // NOTE: a next() called once the attempt was abandoned (its timeout, a cancel) starts nothing.
    const signal = attemptSignal.getStore();
    const restore = engineContext();
    const last = () =>
      (ran = signal?.aborted ? Promise.reject<T>(signal.reason) : restore(() => call(body)));
    try {
      await runChain(links, 'interceptStep', invocation, last, chain);
    } catch (error) {
      failure = { error };
    }
    // NOTE: the attempt ends after its body, even when an interceptor did not await next().
    let bodyError: { error: unknown } | undefined;
    await (ran as Promise<T> | undefined)?.catch((error: unknown) => (bodyError = { error }));
    // An abort of the pass (cancel, deadline, takeover) stays one, whatever an interceptor made of it.
    if (bodyError && isPassAbort(scope, bodyError.error)) throw bodyError.error;
    if (failure) throw failure.error;
    if (chain.misuse) throw chain.misuse;
    return ran!;
  }
}

/**
 * `invocation` with the run's input as an interceptor sees it: its own copy, made on first read,
 * so mutating it (e.g. redacting a field in place before logging) never changes what the workflow
 * method sees.
 */
function withInput<T extends object>(stored: unknown, invocation: T): T & { input: unknown } {
  let copy: { value: unknown } | undefined;
  return Object.defineProperty(invocation as T & { input: unknown }, 'input', {
    enumerable: true,
    get: () => (copy ??= { value: structuredClone(stored) }).value,
  });
}

function outcomeOf(outcome: PassOutcome | undefined): PassOutcome {
  return outcome ?? 'lock_lost';
}

async function call<T>(body: () => T | Promise<T>): Promise<T> {
  return body();
}

function kindOf(stepName: string): StepKind {
  if (stepName.startsWith(COMPENSATION_PREFIX)) return 'compensation';
  return stepName === ON_CANCEL_STEP ? 'onCancel' : 'step';
}

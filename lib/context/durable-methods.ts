import { Injectable } from '@nestjs/common';
import { BranchRunner } from '../branches/branch.runner.js';
import type { DurableMethodDefinition } from '../definitions/method-definitions.js';
import { stepClaims } from '../options/limit-options.js';
import { activeScope } from '../run/run-scope.js';
import { StepRunner } from '../steps/step.runner.js';
import { RepeatRunner } from '../timers/repeat.runner.js';

type Method = (...args: unknown[]) => unknown;

/**
 * The one place that wraps decorated methods: replaces each `@DurableStep()`, `@Repeat()` and
 * `@Branch()` method on its provider instance (not the prototype, so dependency injection and
 * other instances are untouched) by a wrapper that makes a call inside a run durable. Outside a
 * run a wrapped method is a plain call. A method with several decorators is wrapped step first,
 * then repeat, then branch (the branch wrapper is the outermost).
 */
@Injectable()
export class DurableMethods {
  constructor(
    private readonly steps: StepRunner,
    private readonly repeats: RepeatRunner,
    private readonly branches: BranchRunner,
  ) {}

  install(methods: readonly DurableMethodDefinition[]): void {
    for (const { instance, methodName, step, repeat, branch } of methods) {
      const target = instance as Record<string, Method>;
      const { steps, repeats, branches } = this;
      if (step) {
        const original = target[methodName];
        target[methodName] = function durableStep(this: unknown, ...args: unknown[]) {
          let options = step.options;
          try {
            // The keys of the step's limits are computed from this call's arguments.
            if (step.limits) options = { ...options, limit: stepClaims(step.limits, args) };
          } catch (err) {
            return Promise.reject(err as Error);
          }
          const { compensate } = step;
          const undo = compensate && ((result: unknown) => compensate.call(this, ...args, result));
          return steps.run(step.name, () => original.apply(this, args), options, undo);
        };
      }
      if (repeat) {
        const original = target[methodName];
        target[methodName] = function durableRepeat(this: object, ...args: unknown[]) {
          const scope = activeScope();
          if (!scope) return original.apply(this, args);
          return scope.track(() => repeats.run(scope, repeat, this, original, args));
        };
      }
      if (branch) {
        const original = target[methodName];
        target[methodName] = function durableBranch(this: object, ...args: unknown[]) {
          const scope = activeScope();
          if (!scope) return original.apply(this, args);
          return scope.track(() =>
            branches.branch(scope, branch.name, branch.automerge, async () =>
              original.apply(this, args),
            ),
          );
        };
      }
    }
  }
}

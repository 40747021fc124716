import type { Type } from '@nestjs/common';
import { type CallOptions, callLabel, type ChildHandle } from '../branches/call-specs.js';
import { CallRunner } from '../branches/call.runner.js';
import type {
  WorkflowInputOf,
  WorkflowMethodOf,
  WorkflowResultOf,
} from '../definitions/workflow-method-types.js';
import { NotInWorkflowError } from '../errors/not-in-workflow.error.js';
import { type RunScope, runStorage } from '../run/run-scope.js';
import { rejectThrown } from '../util/reject-thrown.util.js';

/** `(name, input?, options?)` or `(Class, 'method', input, options?)`, as given. */
type CallArgs = [unknown, unknown?, unknown?, unknown?];

/**
 * The composition half of {@link WorkflowContext}: calling other workflows as children.
 *
 * @publicApi
 */
export abstract class ComposingContext {
  protected constructor(private readonly calls: CallRunner) {}

  private callScope(call: string): RunScope {
    const scope = runStorage.getStore();
    if (!scope)
      throw new NotInWorkflowError(`${call} is only available while a workflow method runs.`);
    scope.refuseInsideStep(call);
    return scope;
  }

  /**
   * Starts workflow `workflow` as a child run and returns its result (step `call$<key>`, key
   * defaulting to the workflow's name): the run halts until the child ended, and the child's end
   * wakes it at once. Throws `ChildWorkflowFailedError` (with the child's error) when the child
   * failed or was cancelled. Durable: the child's key is
   * `<parentKey>$<parentWorkflow>$$call$<key>[#n]`, fixed by the call's position, so a replay
   * returns the recorded result and never starts a second child. Calls made together
   * (`Promise.all`) start their children in parallel.
   */
  call<R = unknown>(workflow: string, input?: unknown, options?: CallOptions): Promise<R>;
  /** Typed call: the input and result types are the method's. */
  call<T extends object, M extends WorkflowMethodOf<T>>(
    target: Type<T>,
    method: M,
    input: WorkflowInputOf<T[M]>,
    options?: CallOptions,
  ): Promise<WorkflowResultOf<T[M]>>;
  call(...args: CallArgs): Promise<unknown> {
    return rejectThrown(() => {
      const scope = this.callScope('ctx.call()');
      const { def, input, options } = this.parse(args, 'ctx.call()');
      const step = scope.nextStepName(`call$${callLabel(options, def.name)}`);
      return scope.track(() => this.calls.call(scope, def, step, input));
    });
  }

  /**
   * Starts workflow `workflow` as a child run without waiting for it (step `child$<key>`) and
   * returns its handle; `handle.result()` waits for it durably (step `join$<key>`). Durable like
   * {@link call}: replays return the same child, never a second one.
   */
  startChild<R = unknown>(
    workflow: string,
    input?: unknown,
    options?: CallOptions,
  ): Promise<ChildHandle<R>>;
  /** Typed startChild: the input and result types are the method's. */
  startChild<T extends object, M extends WorkflowMethodOf<T>>(
    target: Type<T>,
    method: M,
    input: WorkflowInputOf<T[M]>,
    options?: CallOptions,
  ): Promise<ChildHandle<WorkflowResultOf<T[M]>>>;
  startChild(...args: CallArgs): Promise<ChildHandle<unknown>> {
    return rejectThrown(() => {
      const scope = this.callScope('ctx.startChild()');
      const { def, input, options } = this.parse(args, 'ctx.startChild()');
      const label = callLabel(options, def.name);
      const step = scope.nextStepName(`child$${label}`);
      const join = (ref: { key: string; id: string }) =>
        rejectThrown(() => {
          const joining = this.callScope('handle.result()');
          const joinStep = joining.nextStepName(`join$${label}`);
          return joining.track(() => this.calls.join(joining, joinStep, step, ref));
        });
      return scope.track(() => this.calls.startChild(scope, def, step, input, join));
    });
  }

  private parse(args: CallArgs, call: string) {
    const typed = typeof args[0] === 'function';
    const def = this.calls.resolve(args[0], typed ? args[1] : undefined, call);
    const input = typed ? args[2] : args[1];
    const options = (typed ? args[3] : args[2]) as CallOptions | undefined;
    return { def, input, options };
  }
}

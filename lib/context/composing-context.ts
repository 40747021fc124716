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
import { RunContext } from './run-context.js';
import { rejectThrown } from '../util/reject-thrown.util.js';
import { assertUserName } from '../util/names.util.js';

/** `(name, input?, options?)` or `(Class, 'method', input, options?)`, as given. */
type CallArgs = [unknown, unknown?, unknown?, unknown?];

/**
 * Part of {@link WorkflowContext}: calling other workflows as children, and the run's history
 * markers (patches) and version.
 *
 * @publicApi
 */
export abstract class ComposingContext extends RunContext {
  protected constructor(private readonly calls: CallRunner) {
    super();
  }

  /** The current run, for a durable call (refused inside a step body, before it takes a name). */
  protected durableScope(call: string): RunScope {
    return this.durable(call);
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
      const scope = this.durableScope('ctx.call()');
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
      const scope = this.durableScope('ctx.startChild()');
      const { def, input, options } = this.parse(args, 'ctx.startChild()');
      const label = callLabel(options, def.name);
      const step = scope.nextStepName(`child$${label}`);
      const join = (ref: { key: string; id: string }) =>
        rejectThrown(() => {
          const joining = this.durableScope('handle.result()');
          const joinStep = joining.nextStepName(`join$${label}`);
          return joining.track(() => this.calls.join(joining, joinStep, step, ref));
        });
      return scope.track(() => this.calls.startChild(scope, def, step, input, join));
    });
  }

  /**
   * Whether this run takes the code path added by change `id` (Temporal's `patched`): `true` for a
   * run that reaches this call after the change was deployed (the marker `patch$<id>` is recorded
   * at this position of its history), `false` on replay of a history recorded without the marker
   * here (the run started on the old code: keep its old path). Constant within a run. Then, once
   * no run recorded before the change is in flight, replace it by {@link deprecatePatch}.
   */
  patched(id: string): boolean {
    const scope = this.durableScope('ctx.patched()');
    assertUserName(id, 'Patch');
    scope.assertOwned();
    return scope.history.patched(id);
  }

  /**
   * Step two of removing a patch: the code keeps only the new path and says that histories may or
   * may not have the marker of `id` here (runs that started before and after `patched(id)` was
   * deployed both replay). Remove the call once no run that reached it is in flight.
   */
  deprecatePatch(id: string): void {
    const scope = this.durableScope('ctx.deprecatePatch()');
    assertUserName(id, 'Patch');
    scope.assertOwned();
    scope.history.deprecatePatch(id);
  }

  /** The `@Workflow({ version })` the run started with (`null` when its workflow has none). */
  get version(): string | null {
    const scope = runStorage.getStore();
    if (!scope)
      throw new NotInWorkflowError('ctx.version is only available while a workflow method runs.');
    return scope.run.version ?? null;
  }

  private parse(args: CallArgs, call: string) {
    const typed = typeof args[0] === 'function';
    const def = this.calls.resolve(args[0], typed ? args[1] : undefined, call);
    const input = typed ? args[2] : args[1];
    const options = (typed ? args[3] : args[2]) as CallOptions | undefined;
    return { def, input, options };
  }
}

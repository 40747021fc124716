import { Injectable, type Type } from '@nestjs/common';
import { checkNewRun } from '../definitions/input-validation.js';
import { type WorkflowDefinition, WorkflowRegistry } from '../definitions/workflow.registry.js';
import { ChildKeyConflictError } from '../errors/child-key-conflict.error.js';
import { ChildWorkflowFailedError } from '../errors/child-workflow-failed.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { engineStatement } from '../database/engine-statement.js';
import type { LogRow } from '../persistence/rows.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import type { RunScope } from '../run/run-scope.js';
import { crashPoint } from '../steps/fault-injector.js';
import { describeValue } from '../util/describe.util.js';
import { deserializeValue, serializeValue } from '../util/serialization.util.js';
import { BranchStore } from './branch.store.js';
import { type CalledChild, CallStore, ENDED_CHILD_STATES } from './call.store.js';
import { callChildKey, type ChildHandle } from './call-specs.js';

/**
 * Longest a caller waits between two looks at its child when no end woke it: a safety net only
 * (a child's end wakes its caller in the same statement), e.g. for a child cancelled meanwhile.
 */
export const CALL_SAFETY_MS = 5 * 60_000;

/** What a call log records once its child ended. */
interface CallOutcome {
  child_key: string;
  child_id: string;
  outcome: string;
  error_class?: string | null;
  error_message?: string | null;
}

/**
 * `ctx.call` and `ctx.startChild`: a child run started through the spawn insert (one fenced
 * statement, idempotent by the child's key), linked to the call's step log, whose pending count
 * the child's end takes to zero, waking the caller (pushed fan-in).
 */
@Injectable()
export class CallRunner {
  constructor(
    private readonly store: WorkflowStore,
    private readonly branches: BranchStore,
    private readonly calls: CallStore,
    private readonly registry: WorkflowRegistry,
    private readonly queue: WorkflowQueue,
  ) {}

  /** The definition a call names: a workflow name, or a `(class, method)` pair. */
  resolve(target: unknown, method: unknown, call: string): WorkflowDefinition {
    let def: WorkflowDefinition | undefined;
    if (typeof target === 'string') def = this.registry.get(target);
    else if (typeof target === 'function' && typeof method === 'string')
      def = this.registry.findByMethod(target as Type<unknown>, method);
    else
      throw new InvalidOptionsError(
        `${call} needs a workflow name or a (class, method) pair, got ${describeValue(target)}.`,
      );
    if (!def) {
      const label =
        typeof target === 'string' ? target : `${(target as Type).name}#${String(method)}`;
      throw new WorkflowNotFoundError(
        `${call}: no workflow ${JSON.stringify(label)} is registered in this application.`,
      );
    }
    return def;
  }

  /** Runs call step `stepName`: starts the child once, then waits for its result. */
  async call<R>(
    scope: RunScope,
    def: WorkflowDefinition,
    stepName: string,
    input: unknown,
  ): Promise<R> {
    return this.replayOr<R>(scope, stepName, async (log) => {
      const started = await this.startOnce(scope, def, stepName, input, log, true);
      return this.await<R>(scope, stepName, started.log, started.child);
    });
  }

  /** Runs `child$` step `stepName`: starts the child once and returns its handle. */
  async startChild<R>(
    scope: RunScope,
    def: WorkflowDefinition,
    stepName: string,
    input: unknown,
    join: (handle: { key: string; id: string }) => Promise<R>,
  ): Promise<ChildHandle<R>> {
    scope.assertOwned();
    let log = scope.logs.get(stepName);
    if (log?.state === 'completed') await scope.replayTurn(log.id);
    else {
      scope.assertCanWork();
      const started = await this.startOnce(scope, def, stepName, input, log, false);
      const child = started.child ?? (await this.calls.child(started.log.id));
      if (!child) throw new LockLostError(scope.run.id);
      const metadata = { ...started.log.metadata, child_id: child.id };
      const result = serializeValue({ key: child.key, id: child.id });
      crashPoint(scope, stepName, 'before');
      const id = await this.store.completeStep(
        scope.run.id,
        scope.owner,
        stepName,
        started.log.attempts,
        result,
        metadata,
        new Date(),
      );
      if (id === null) throw new LockLostError(scope.run.id);
      crashPoint(scope, stepName, 'after');
      log = { ...started.log, state: 'completed', result, metadata };
      scope.logs.set(stepName, log);
    }
    const ref = deserializeValue<{ key: string; id: string }>(log.result);
    return { ...ref, workflow: def.name, result: () => join(ref) };
  }

  /** Runs `join$` step `stepName` of a started child (`linkStep` is its `child$` step). */
  async join<R>(
    scope: RunScope,
    stepName: string,
    linkStep: string,
    ref: { key: string; id: string },
  ): Promise<R> {
    return this.replayOr<R>(scope, stepName, async (log) => {
      const link = scope.logs.get(linkStep);
      if (!link) throw new InvalidOptionsError(`join: the child step ${linkStep} is unknown.`);
      const armed = await this.calls.armWake(scope.run.id, scope.owner, link.id, ref.id);
      if (armed === null) throw new LockLostError(scope.run.id);
      const child = await this.calls.child(link.id);
      const metadata = { child_key: ref.key, child_id: ref.id };
      const pending = log ?? {
        id: '',
        step_name: stepName,
        state: 'pending',
        attempts: 0,
        metadata,
      };
      return this.await<R>(scope, stepName, { ...pending, result: null } as LogRow, child);
    });
  }

  /**
   * The replay prologue of a step that waits for a child (`call$`, `join$`): its recorded outcome
   * when it completed (returned, or the child's failure raised again, in replay order), else
   * `run` with the step's log so far, once the pass may do new work.
   */
  private async replayOr<R>(
    scope: RunScope,
    stepName: string,
    run: (log: LogRow | undefined) => Promise<R>,
  ): Promise<R> {
    scope.assertOwned();
    const log = scope.logs.get(stepName);
    if (log?.state === 'completed') {
      await scope.replayTurn(log.id);
      return this.outcome<R>(log);
    }
    scope.assertCanWork();
    return run(log);
  }

  /**
   * The call log and child of `stepName`, created when missing: the pending log first (the
   * child's parent), then the child through the spawn insert, enqueued once it committed.
   */
  private async startOnce(
    scope: RunScope,
    def: WorkflowDefinition,
    stepName: string,
    input: unknown,
    log: LogRow | undefined,
    counted: boolean,
  ): Promise<{ log: LogRow; child: CalledChild | null }> {
    const stored = log?.metadata.child_key;
    const key = typeof stored === 'string' ? stored : callChildKey(scope.run, stepName);
    const value = input ?? null;
    if (!log) {
      await checkNewRun(def, key, value);
      const metadata = { child_key: key, workflow: def.name };
      const id = await this.store.savePendingLog(scope.run.id, scope.owner, stepName, 1, metadata);
      log = { id, step_name: stepName, state: 'pending', attempts: 1, result: null, metadata };
      scope.logs.set(stepName, log);
    }
    const child = await this.calls.child(log.id);
    if (child && !child.never_started) return { log, child };
    if (!child) await checkNewRun(def, key, value);
    const row = { key, workflow: def.name, input: value, maxDurationMs: def.maxDurationMs };
    crashPoint(scope, stepName, 'before');
    const dispatched = await this.branches.dispatch(
      scope.run.id,
      scope.owner,
      log.id,
      [{ ...row, timeoutMs: def.timeoutMs ?? null }],
      'call',
      { n: 1 },
      counted && !child,
    );
    if (dispatched === null) throw new LockLostError(scope.run.id);
    if (dispatched.conflicts.length > 0)
      throw new ChildKeyConflictError(
        `${stepName}: child key ${JSON.stringify(key)} belongs to a run that is not this call's child.`,
      );
    await engineStatement(() => this.queue.enqueueChildren(dispatched.toEnqueue));
    return { log, child };
  }

  /** Records the child's outcome once it ended, else halts until its end wakes the run. */
  private async await<R>(
    scope: RunScope,
    stepName: string,
    log: LogRow,
    child: CalledChild | null,
  ): Promise<R> {
    if (!child || !(ENDED_CHILD_STATES as readonly string[]).includes(child.state)) {
      scope.halt(scope.now() + CALL_SAFETY_MS);
    }
    const completed = child.state === 'completed';
    const metadata: CallOutcome = {
      ...(log.metadata as Partial<CallOutcome>),
      child_key: child.key,
      child_id: child.id,
      outcome: child.state,
      ...(completed ? {} : { error_class: child.error_class, error_message: child.error_message }),
    };
    crashPoint(scope, stepName, 'before');
    const id = await this.store.completeStep(
      scope.run.id,
      scope.owner,
      stepName,
      Math.max(log.attempts, 1),
      completed ? child.result : null,
      metadata as unknown as Record<string, unknown>,
      new Date(),
    );
    if (id === null) throw new LockLostError(scope.run.id);
    crashPoint(scope, stepName, 'after');
    const done: LogRow = {
      ...log,
      id,
      state: 'completed',
      result: completed ? child.result : null,
      metadata: metadata as unknown as Record<string, unknown>,
    };
    scope.logs.set(stepName, done);
    return this.outcome<R>(done);
  }

  /** The recorded outcome of a call: the child's result, or its failure raised again. */
  private outcome<R>(log: LogRow): R {
    const m = log.metadata as Partial<CallOutcome>;
    if (m.outcome === 'completed' || m.outcome === undefined)
      return deserializeValue<R>(log.result);
    const key = m.child_key ?? '';
    const message = m.error_message ?? null;
    throw new ChildWorkflowFailedError(
      `Child run ${JSON.stringify(key)} ${m.outcome === 'cancelled' ? 'was cancelled' : m.outcome === 'compensated' ? 'failed and was rolled back' : 'failed'}${message ? `: ${message}` : ''}.`,
      key,
      m.outcome,
      { errorClass: m.error_class ?? null, message },
    );
  }
}

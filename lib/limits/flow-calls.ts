import { Injectable } from '@nestjs/common';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { LogRow } from '../persistence/rows.js';
import type { RunScope } from '../run/run-scope.js';
import { serializeValue } from '../util/serialization.util.js';
import { keySegment, LOCK_LIMIT, onceClaimSql, ORDERED_LOCK_LIMIT } from './flow.sql.js';
import { LimitGate } from './limit-gate.js';
import { LimitStore } from './limit.store.js';

/**
 * The durable calls `ctx.withLock` and `ctx.once`. Each one takes a step name like a step does
 * (`lock$<key>`, `once$<key>`, with occurrence suffixes) and records a log, so a replay knows the
 * call's outcome: a completed lock replays `fn` without taking the lock again (its steps return
 * their recorded results), a once that was skipped stays skipped.
 */
@Injectable()
export class FlowCalls {
  private readonly onceSql: string;

  constructor(
    private readonly store: WorkflowStore,
    private readonly limits: LimitStore,
    private readonly gate: LimitGate,
  ) {
    this.onceSql = onceClaimSql(limits.tables, store.wf, store.logs);
  }

  /** The step name of the next `withLock(key)` / `once(key)` of the pass. */
  stepName(scope: RunScope, kind: 'lock' | 'once', key: string): string {
    return scope.nextStepName(`${kind}$${keySegment(key)}`);
  }

  /**
   * Runs `fn` holding the lock `key` (a semaphore of 1 per key, shared by every run). A run that
   * finds it held parks idle (`waiting on limit $lock`) and is woken when it frees; ordered locks
   * admit their waiters by run start order. The lock is freed by the statement that records the
   * call, when `fn` throws, or when the pass ends (a halt inside `fn` frees it: the next pass takes
   * it again before replaying `fn`); the holder's pass dying frees it by the heartbeat rule.
   */
  async withLock<T>(
    scope: RunScope,
    step: string,
    key: string,
    ordered: boolean,
    fn: () => T | Promise<T>,
  ): Promise<T> {
    const existing = scope.logs.get(step);
    if (existing?.state === 'completed') {
      await scope.replayTurn(existing.id);
      return fn();
    }
    const name = ordered ? ORDERED_LOCK_LIMIT : LOCK_LIMIT;
    await this.gate.admitStep(scope, step, { name, key });
    const startedAt = new Date();
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      // Freed now (a halt or a lost lock frees it with the pass).
      if (!scope.halted && !scope.lost && !scope.crashed && !scope.fault)
        await this.limits.release(scope.run.id, scope.owner, [step]);
      throw err;
    }
    scope.assertOwned();
    const metadata = { limited: true, lock: key };
    // The log's write frees the slot (the `limited` trigger), in the same statement.
    const id = await this.store.completeStep(
      scope.run.id,
      scope.owner,
      step,
      1,
      null,
      metadata,
      startedAt,
      undefined,
      existing === undefined,
      scope,
    );
    if (id === null) scope.lockLost();
    this.remember(scope, {
      id,
      step_name: step,
      state: 'completed',
      attempts: 1,
      result: null,
      metadata,
    });
    return value;
  }

  /**
   * Runs `fn` unless some run (this one included) already ran `once(key)` within the last
   * `periodMs`; returns its result, or `undefined` when skipped. The claim is durable: the run
   * that claimed a period runs `fn` (again after a crash or retry) until it completes.
   */
  async once<T>(
    scope: RunScope,
    step: string,
    key: string,
    periodMs: number,
    fn: () => T | Promise<T>,
  ): Promise<T | undefined> {
    let log = scope.logs.get(step);
    if (log?.state === 'completed') {
      await scope.replayTurn(log.id);
      return log.metadata.once === 'skipped' ? undefined : fn();
    }
    if (!log) {
      scope.assertCanWork();
      const skipped = JSON.stringify(serializeValue(null));
      const rows = await this.store.query<LogRow>(this.onceSql, [
        scope.run.id,
        scope.owner,
        key,
        periodMs,
        step,
        skipped,
      ]);
      if (!rows[0]) scope.lockLost();
      log = { ...rows[0], step_name: step, attempts: 1 };
      this.remember(scope, log);
      if (log.state === 'completed') return undefined;
    }
    const startedAt = new Date();
    const value = await fn();
    scope.assertOwned();
    const id = await this.store.completeStep(
      scope.run.id,
      scope.owner,
      step,
      1,
      null,
      { once: 'ran' },
      startedAt,
      undefined,
      false,
      scope,
    );
    if (id === null) scope.lockLost();
    this.remember(scope, { ...log, id, state: 'completed' });
    return value;
  }

  private remember(scope: RunScope, log: LogRow): void {
    scope.logs.set(log.step_name, log);
  }
}

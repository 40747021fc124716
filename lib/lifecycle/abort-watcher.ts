import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AsyncResource } from 'node:async_hooks';
import { LockLostError } from '../errors/lock-lost.error.js';
import { RunCancelledError } from '../errors/run-cancelled.error.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { RunScope } from '../run/run-scope.js';
import { passController } from './abort-signals.js';
import { pastDeadline } from './deadline.js';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error.js';

/** How often the runs of step bodies in flight are checked for a cancel or a takeover. */
export const ABORT_POLL_MS = 500;

/**
 * Fires the abort signal of passes whose run passed its deadline (see `enforceDeadlines`) or was
 * taken from them while a step body runs: one
 * statement per `ABORT_POLL_MS` reads the lock owner of every run with a step body in flight in
 * this process (nothing runs while none is). A pass whose lock is gone (cancelled, taken over) is
 * marked lost first — its next durable call is refused and it writes nothing more — then its
 * signal fires, with `RunCancelledError` (cancelled) or `LockLostError` as the reason.
 */
@Injectable()
export class AbortWatcher implements OnApplicationShutdown {
  private readonly logger = new Logger(AbortWatcher.name);
  /** Passes with step bodies in flight, and how many. */
  private readonly watched = new Map<RunScope, number>();
  /** Per pass, the async context of its first watched step attempt (its abort listeners run there). */
  private readonly contexts = new WeakMap<RunScope, AsyncResource>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  // NOTE: bound here (bootstrap), not to whichever step body started the timer: its polls must
  // not run in that body's async context (e.g. an interceptor's CLS tenant).
  private readonly tick = AsyncResource.bind(() => void this.poll());

  constructor(private readonly store: WorkflowStore) {}

  /**
   * Watches `scope` while a step body of it runs (or, `stepAttempt` false, while its pass
   * interceptors await before the pass); call the returned function when it ends.
   */
  watch(scope: RunScope, stepAttempt = true): () => void {
    this.watched.set(scope, (this.watched.get(scope) ?? 0) + 1);
    // A pass's abort listeners run in its own async context (its first step attempt's, inside its
    // pass interceptors and outside its step interceptors), never in another run's.
    // NOTE: captured once per pass: an AsyncResource made at every step's start cost ~8 µs of a
    // step's critical path (issue #22). A bare AsyncResource captures the context;
    // `AsyncResource.bind` would also build a bound function with deprecated accessors.
    if (stepAttempt && !this.contexts.has(scope))
      this.contexts.set(scope, new AsyncResource('chronoforge.abort'));
    this.timer ??= setInterval(this.tick, ABORT_POLL_MS).unref();
    return () => {
      const n = (this.watched.get(scope) ?? 1) - 1;
      if (n > 0) this.watched.set(scope, n);
      else this.watched.delete(scope);
    };
  }

  /**
   * Whether a pass of run `runId` other than `scope` still has a step body in flight in this
   * process (e.g. the pass a cancel took the run from: its body runs to its end, unrecorded).
   */
  bodiesInFlight(runId: string, scope: RunScope): boolean {
    for (const other of this.watched.keys())
      if (other !== scope && other.run.id === runId) return true;
    return false;
  }

  private async poll(): Promise<void> {
    if (this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.enforceDeadlines();
    if (this.polling) return;
    this.polling = true;
    try {
      const asked = new Set(this.watched.keys());
      const ids = [...new Set([...asked].map((s) => s.run.id))];
      const rows = await this.store.query<{
        id: string;
        locked_by: string | null;
        state: string;
        cancel_reason: string | null;
      }>(
        `SELECT id::text AS id, locked_by, state, cancel_reason FROM ${this.store.wf} WHERE id = ANY($1::bigint[])`,
        [ids],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      // NOTE: only passes watched both when the row was read and now: one that ended since then
      // released its lock itself, and one that began since then may hold a lock the read missed.
      for (const scope of this.watched.keys()) {
        const row = byId.get(scope.run.id);
        if (!asked.has(scope) || row?.locked_by === scope.owner) continue;
        const cancelled = !row || row.state === 'cancelled' || row.state === 'compensating';
        scope.markLost();
        const reason = cancelled
          ? new RunCancelledError(scope.run.id, row?.cancel_reason ?? null)
          : new LockLostError(scope.run.id);
        this.inContext(scope, () => passController(scope).abort(reason));
      }
    } catch (err) {
      this.logger.warn(
        `Checking runs of running steps for a cancel failed: ${(err as Error).message}`,
      );
    } finally {
      this.polling = false;
    }
  }

  /**
   * Passes whose run passed its deadline while a step body runs: the signal fires with
   * `DeadlineExceededError` and the pass halts (due now), so the next pass ends the run.
   */
  private enforceDeadlines(): void {
    for (const scope of this.watched.keys()) {
      const controller = passController(scope);
      if (controller.signal.aborted || !pastDeadline(scope)) continue;
      const reason = new DeadlineExceededError(scope.run.id, new Date(scope.run.deadline_at!));
      this.inContext(scope, () => controller.abort(reason));
      try {
        scope.halt(scope.now());
      } catch {
        // NOTE: halt() unwinds its caller with HaltExecution; here it only marks the pass.
      }
    }
  }

  private inContext(scope: RunScope, fire: () => void): void {
    const context = this.contexts.get(scope);
    if (context) context.runInAsyncScope(fire);
    else fire();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

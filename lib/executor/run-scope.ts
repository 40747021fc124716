import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';
import type { WorkflowDefinition } from '../discovery/workflow.registry.js';
import type { LogRow, RunRow } from '../persistence/rows.js';
import type { ChronoForgeClock } from '../timers/clock.js';
import { occurrenceName } from '../util/names.util.js';

/**
 * Thrown to unwind the workflow method when the pass must stop and continue later (a timer, a
 * step retry backoff, a shutdown). The executor turns it into a release plus a continuation.
 */
export class HaltExecution extends Error {
  constructor() {
    super('ChronoForge halted this pass; do not catch this error.');
    this.name = 'HaltExecution';
  }
}

/** Thrown when a write finds that this pass no longer owns the run's lock. */
export class LockLostError extends Error {
  constructor(readonly workflowId: string) {
    super(`Lost the lock of run ${workflowId}; another pass owns it now.`);
    this.name = 'LockLostError';
  }
}

/** Everything one pass of one run knows; reachable from user code through AsyncLocalStorage. */
export class RunScope {
  /** Wake time of the continuation: `undefined` no halt, `null` halt without timer. */
  wakeAt: number | null | undefined = undefined;
  halted = false;
  /** A simulated crash struck: the pass must stop without writing anything more. */
  crashed = false;
  contextDirty = false;
  readonly context: Record<string, unknown>;
  /** Branches reached in this pass (rebuilt every pass), and whether they were merged. */
  readonly openBranches = new Map<string, { logId: string; merged: boolean }>();
  /** Jobs to enqueue once the lock is released (never before: the continuation race). */
  readonly afterRelease: Array<() => Promise<void>> = [];
  private readonly counters = new Map<string, number>();

  constructor(
    readonly run: RunRow,
    readonly logs: Map<string, LogRow>,
    readonly definition: WorkflowDefinition,
    readonly owner: string,
    readonly isDraining: () => boolean,
    readonly clock: ChronoForgeClock,
  ) {
    // Prototype-free: a key such as `constructor` or `__proto__` is only ever a stored entry.
    this.context = Object.assign(Object.create(null) as Record<string, unknown>, run.context ?? {});
  }

  /** The engine clock's current time in ms. */
  now(): number {
    return this.clock.now();
  }

  /** Step name of the next call of `base` in this pass (deterministic occurrence counter). */
  nextStepName(base: string): string {
    const n = (this.counters.get(base) ?? 0) + 1;
    this.counters.set(base, n);
    return occurrenceName(base, n);
  }

  /** Records a continuation (earliest wins; `null` = no timer) and unwinds the pass. */
  halt(wakeAtMs: number | null): never {
    if (wakeAtMs !== null) {
      this.wakeAt = this.wakeAt == null ? wakeAtMs : Math.min(this.wakeAt, wakeAtMs);
    } else if (this.wakeAt === undefined) {
      this.wakeAt = null;
    }
    this.halted = true;
    throw new HaltExecution();
  }
}

/** The run of the current async call chain. */
export const runStorage = new AsyncLocalStorage<RunScope>();

/** Set while a step body runs, so durable calls nested inside it are plain calls. */
export const stepStorage = new AsyncLocalStorage<string>();

/** The branch whose body is running in the current async call chain. */
export interface BranchFrame {
  name: string;
  logId: string;
  cursors: Record<string, unknown>;
}

/** Set while a `@Branch()` body runs. */
export const branchStorage = new AsyncLocalStorage<BranchFrame>();

/** The EntityManager of the transactional step running in the current async call chain. */
export const transactionStorage = new AsyncLocalStorage<EntityManager>();

/** The active run scope, unless the caller is inside a step body or outside any run. */
export function activeScope(): RunScope | undefined {
  if (stepStorage.getStore() !== undefined) return undefined;
  return runStorage.getStore();
}

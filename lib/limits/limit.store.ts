import { Injectable } from '@nestjs/common';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { LimitSweep } from './limit-sweep.js';
import { UnknownLimitError } from '../errors/unknown-limit.error.js';
import type { LimitInfo, RunLimitWait } from './limit-info.interface.js';
import { fromStoredLimit, type LimitClaim, type StoredLimit } from '../options/limit-options.js';
import {
  type LimitTables,
  LimitStatements,
  limitTables,
  type RunWaitRow,
  toRunLimitWait,
  UNKNOWN_LIMIT_SQLSTATE,
} from './limit.sql.js';

/** What a holder (a step or a run's pass) asks the limits for. */
export interface LimitRequest {
  runId: string;
  /** The step log name, or `'$run'` for a run-level limit. */
  holder: string;
  /** The pass asking: the run's `locked_by`. */
  owner: string;
  /** Lower is admitted first among waiters of a key. @default 0 */
  priority?: number;
  claims: readonly LimitClaim[];
  /** A completed log to record for the run on admission (in the acquire's statement). */
  admittedLog?: string;
  /** This pass flagged the run `limited` already (an earlier acquire): fence with a share lock. */
  flagged?: boolean;
}

/** Outcome of {@link LimitStore.acquire}. */
export type LimitAcquireResult =
  | {
      kind: 'admitted';
      waitedMs: number;
      /**
       * With a rate grant: the `performance.now()` by which the body must start (the request's
       * send time plus the window's guard: the grant was made after the request was sent), or the
       * grant moves to the body's start if the windows have room, else the step asks again. `null` without a rate grant.
       */
      startBy: number | null;
      /** The rate grant's time (exact text); `null` without a rate grant. */
      grantedAt: string | null;
    }
  | {
      kind: 'waiting';
      /** The first limit and key that refused. */
      limit: string;
      key: string;
      /** Waiters admitted before this one on that key. */
      ahead: number;
      /** When a rate window will have room (sleep until then); `null`: woken by a release. */
      wakeAt: Date | null;
    }
  /** The pass no longer owns the run. */
  | { kind: 'lost' };

/** Row of the acquire function. */
interface AcquireRow {
  admitted: boolean;
  blocked_name: string | null;
  blocked_key: string | null;
  ahead: number;
  wake_at: Date | null;
  waited_ms: number;
  use_within_ms: string | null;
  granted_text: string | null;
}

/**
 * Durable flow control in PostgreSQL: named limits (semaphores and multi-window sliding rate
 * limits), each applied per key, shared by every process of a deployment whatever the queue
 * backend.
 *
 * Atomicity: every decision about a key is made by a PL/pgSQL function (migration 1763900000006)
 * that first locks the key's row in `chrono_forge_limit_keys` (`FOR UPDATE`) and only then counts
 * its held slots, waiters and recent grants, each with a fresh snapshot. Two acquirers of one key
 * therefore decide one after the other; acquirers of different keys never wait for each other.
 * Several keys are locked in (name, key) order.
 *
 * Ownership: a slot is owned by the pass that took it (`owner` = the run's `locked_by`,
 * `<worker id>/<job id>`). It is freed by the statement that records the step, or ends the pass
 * ({@link releaseCall}); if the pass never gets there (its worker died), the slot is dead as soon
 * as the run's lock is stale by the engine's heartbeat rule (`worker.deadAfter`), and the next
 * {@link sweep} deletes it and wakes the waiters.
 *
 * Fairness: a holder is admitted only when fewer live waiters are ahead of it (by priority, then
 * arrival) than there are free places, so a newcomer never takes the place of a woken waiter, and
 * waiters are admitted in order. A refused holder becomes (or stays) a waiter and is told when to
 * come back: at the time a rate window will have room for it, or when a release wakes it (a
 * `pg_notify` on the engine's wake channel, sent at commit).
 */
@Injectable()
export class LimitStore {
  readonly tables: LimitTables;
  private readonly sql: LimitStatements;
  private readonly sweeper: LimitSweep;

  constructor(private readonly store: WorkflowStore) {
    this.tables = limitTables(store.schema);
    this.sql = new LimitStatements(this.tables, store.wf, store.logs);
    this.sweeper = new LimitSweep(
      store,
      this.sql,
      this.sql.reap(this.tables, store.wf, store.staleLock()),
    );
  }

  /**
   * Takes a slot (and a rate grant) on every claim at once, or on none. Fenced: the pass must still
   * own the run. The claims may come in any order (the function locks them sorted).
   */
  async acquire(req: LimitRequest): Promise<LimitAcquireResult> {
    const claims = req.claims;
    let rows: AcquireRow[];
    const sentAt = performance.now();
    try {
      const text = req.flagged ? this.sql.acquire : this.sql.acquireFlagging;
      rows = await this.store.query<AcquireRow>(text, [
        req.runId,
        req.holder,
        req.owner,
        req.priority ?? 0,
        claims.map((c) => c.name),
        claims.map((c) => c.key),
        req.admittedLog ?? null,
      ]);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === UNKNOWN_LIMIT_SQLSTATE)
        throw new UnknownLimitError(/"(.*)"/.exec(e.message ?? '')?.[1] ?? '?');
      throw err;
    }
    const row = rows[0];
    if (!row) return { kind: 'lost' };
    if (row.admitted) {
      const within = row.use_within_ms === null ? null : Number(row.use_within_ms);
      const startBy = within === null ? null : sentAt + within;
      const waitedMs = Number(row.waited_ms);
      return { kind: 'admitted', waitedMs, startBy, grantedAt: row.granted_text };
    }
    return {
      kind: 'waiting',
      limit: row.blocked_name ?? '',
      key: row.blocked_key ?? '',
      ahead: row.ahead,
      wakeAt: row.wake_at,
    };
  }

  /**
   * Moves a rate grant made at `grantedAt` to now, on every claim, when each window has room for it
   * counted from now; otherwise gives it back. Its body could not start within the window's guard
   * (the process stalled). Returns whether every claim moved (if not, the caller asks again).
   */
  async restamp(claims: readonly LimitClaim[], grantedAt: string): Promise<boolean> {
    const sorted = [...claims].sort((a, b) =>
      a.name === b.name ? (a.key < b.key ? -1 : 1) : a.name < b.name ? -1 : 1,
    );
    let moved = true;
    for (const c of sorted) {
      const rows = await this.store.query<{ moved: boolean }>(this.sql.restamp, [
        c.name,
        c.key,
        grantedAt,
      ]);
      moved = rows[0]?.moved === true && moved;
    }
    return moved;
  }

  /**
   * Frees the slots held by `holders` of run `runId` and wakes the waiters that now fit. Fenced
   * like {@link acquire}; returns how many runs were woken, or `null` when the pass lost the run.
   * (The engine frees slots inside the statement that records the step; this is for the paths that
   * record nothing.)
   */
  async release(runId: string, owner: string, holders: readonly string[]): Promise<number | null> {
    const rows = await this.store.query<{ woken: number }>(this.sql.release, [
      runId,
      [...holders],
      owner,
    ]);
    return rows[0] ? rows[0].woken : null;
  }

  /** Writes the declared definitions (boot): each process rewrites what it declares. */
  async declare(limits: ReadonlyMap<string, StoredLimit>): Promise<void> {
    if (limits.size === 0) return;
    const names = [...limits.keys()];
    await this.store.query(this.sql.declare, [
      names,
      names.map((n) => JSON.stringify(limits.get(n))),
    ]);
  }

  /** Sets the runtime override of `name` (creating the limit) and wakes waiters that now fit. */
  async setOverride(name: string, limit: StoredLimit): Promise<void> {
    await this.store.query(this.sql.setOverride, [name, JSON.stringify(limit)]);
    await this.store.query(this.sql.wakeName, [name]);
  }

  /** Drops the runtime override of `name`; false when no such limit exists. */
  async resetOverride(name: string): Promise<boolean> {
    const rows = await this.store.query(this.sql.resetOverride, [name]);
    await this.store.query(this.sql.wakeName, [name]);
    return rows.length > 0;
  }

  /** The named limits with their holders and waiters (all of them when `names` is omitted). */
  async describe(names?: readonly string[]): Promise<LimitInfo[]> {
    type Row = { name: string; declared: StoredLimit | null; override: StoredLimit | null };
    const found =
      names === undefined
        ? await this.store.query<Row>(this.sql.findAll)
        : (await Promise.all(names.map((n) => this.store.query<Row>(this.sql.find, [n])))).flat();
    const infos = new Map<string, LimitInfo>();
    for (const r of found) {
      infos.set(r.name, {
        name: r.name,
        effective: fromStoredLimit(r.override ?? r.declared),
        declared: fromStoredLimit(r.declared),
        override: fromStoredLimit(r.override),
        holders: [],
        waiting: [],
      });
    }
    if (infos.size === 0) return [];
    type SlotRow = {
      name: string;
      key: string;
      run_id: string;
      holder: string;
      state: 'held' | 'waiting';
      owner: string | null;
      priority: number;
      queued_at: Date;
      acquired_at: Date | null;
    };
    const slots = await this.store.query<SlotRow>(this.sql.rowsOf, [[...infos.keys()]]);
    for (const s of slots) {
      const info = infos.get(s.name);
      if (!info) continue;
      const base = { key: s.key, runId: s.run_id, holder: s.holder };
      if (s.state === 'held')
        info.holders.push({ ...base, owner: s.owner, acquiredAt: s.acquired_at });
      else info.waiting.push({ ...base, priority: s.priority, queuedAt: s.queued_at });
    }
    return [...infos.values()];
  }

  /** What run `runId` waits on now (empty when it waits on no limit). */
  async waitsOf(runId: string): Promise<RunLimitWait[]> {
    return (await this.store.query<RunWaitRow>(this.sql.waitsOfRun, [runId])).map(toRunLimitWait);
  }

  /**
   * The safety net of the wake-ups (the recovery sweeper calls it): on each key that has waiters or
   * holders that look dead, under the key's lock, deletes the slots of passes that no longer own
   * their run (dead worker by the heartbeat rule, stale or released lock) and the waits of runs no
   * longer idle or running, then wakes the waiters that fit. Returns the dead rows deleted and the
   * runs woken. See {@link LimitSweep} for which keys one sweep visits.
   */
  sweep(): Promise<{ reaped: number; woken: number }> {
    return this.sweeper.sweep();
  }
}

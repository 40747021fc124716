import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import type { QueryRunner } from 'typeorm';
import { ChronoForgeDatabase, type IsolationLevel } from '../database/chrono-forge-database.js';
import {
  engineStatement,
  engineStatementFailed,
  rethrowEngineFailure,
} from '../database/engine-statement.js';
import { HeldConnection } from '../database/held-connection.js';
import { namedCount, namedQuery } from '../database/named-query.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { StateCarrier, StateClaim } from './rows.js';
import {
  staleLockCondition,
  statementName,
  WORKER_DEAD_AFTER_MS,
  type WorkflowTables,
  workflowTables,
} from './workflow.sql.js';

/** How a statement's outcome is taken from each way of sending it (see `StoreConnection.send`). */
interface Picked<R extends QueryResultRow, T> {
  runner(result: { records: unknown[]; affected?: number }): T;
  pg(result: QueryResult<R>): T;
  named(client: PoolClient, name: string, text: string, values: unknown[]): Promise<T>;
}

/** The statement's rows. */
const ROWS: Picked<QueryResultRow, QueryResultRow[]> = {
  runner: (r) => r.records as QueryResultRow[],
  pg: (r) => r.rows,
  named: namedQuery,
};

/** The number of rows the statement wrote (its command tag's count). */
const COUNT: Picked<QueryResultRow, number> = {
  runner: (r) => r.affected ?? 0,
  pg: (r) => r.rowCount ?? 0,
  named: namedCount,
};

/** A claim on a pass's durable state and the connection to write it on (see `claimWrite`). @internal */
export interface ClaimedWrite {
  /** The state the write carries, or `null`. */
  readonly claim: StateClaim | null;
  /** Runs a statement on the write's connection. */
  query<R extends QueryResultRow>(text: string, values: unknown[]): Promise<R[]>;
  /** Runs a statement that returns no rows on the write's connection: the rows it wrote. */
  count(text: string, values: unknown[]): Promise<number>;
  /** Ends the claim (`saved`: the write stored the state) and returns the connection. */
  end(saved: boolean): void;
}

/**
 * What every statement of the run store goes through: the schema's table names, the stale-lock
 * rule, statements tagged as the engine's own (`query`), durable-state claims with their connection
 * (`claimWrite`) and transactions. `WorkflowStore` adds the statements themselves.
 */
export abstract class StoreConnection {
  readonly wf: string;
  readonly logs: string;
  readonly errors: string;
  readonly signals: string;
  readonly workers: string;
  readonly schema: string;

  /** The schema-qualified table names. */
  protected readonly tables: WorkflowTables;
  private readonly staleLockSql: string;
  /** `worker.deadAfter`: a worker whose heartbeat is older is dead. */
  readonly deadAfterMs: number;
  /** Named statements, except behind a transaction pooler (a name outlives its server session). */
  protected readonly namedStatements: boolean;
  /** Per carrier (a pass), the pooled connection its last write used, kept to the turn's end. */
  private readonly turnConnections = new WeakMap<StateCarrier, TurnConnection>();

  constructor(
    protected readonly db: ChronoForgeDatabase,
    options: ResolvedOptions,
  ) {
    this.schema = db.schema;
    const tables = workflowTables(db.schema);
    this.tables = tables;
    ({
      wf: this.wf,
      logs: this.logs,
      errors: this.errors,
      signals: this.signals,
      workers: this.workers,
    } = tables);
    const deadAfter = options.worker === false ? WORKER_DEAD_AFTER_MS : options.worker.deadAfterMs;
    this.deadAfterMs = deadAfter;
    this.staleLockSql = staleLockCondition(this.workers, deadAfter);
    this.namedStatements = options.database.pooler !== 'transaction';
  }

  /**
   * SQL condition: the run's lock may be taken — free, older than the run's `max_duration_ms`, or
   * held by a worker whose heartbeat stopped (a dead process).
   */
  staleLock(): string {
    return this.staleLockSql;
  }

  /** @internal The pg pool (its types stay out of the published declarations). */
  get pool(): Pool {
    return this.db.pool;
  }

  /**
   * Runs a statement on the pool, or on `runner` (a TypeORM QueryRunner inside a transaction), or
   * on `client` (a connection taken from the pool). What it throws is tagged as an engine
   * statement's failure (type and `code` unchanged): when it escapes a durable call, the pass ends
   * as an infrastructure fault (`EngineFaultError`).
   * @internal
   */
  query<R extends QueryResultRow>(
    text: string,
    values: unknown[] = [],
    runner?: QueryRunner,
    client?: PoolClient,
  ): Promise<R[]> {
    return this.send(text, values, runner, client, ROWS as Picked<R, R[]>);
  }

  /**
   * {@link query} for a statement that returns no rows: resolves with the number of rows it wrote.
   * @internal
   */
  count(
    text: string,
    values: unknown[],
    runner?: QueryRunner,
    client?: PoolClient,
  ): Promise<number> {
    return this.send(text, values, runner, client, COUNT);
  }

  private send<R extends QueryResultRow, T>(
    text: string,
    values: unknown[],
    runner: QueryRunner | undefined,
    client: PoolClient | undefined,
    picked: Picked<R, T>,
  ): Promise<T> {
    let result: Promise<T>;
    try {
      if (runner) result = runner.query(text, values, true).then(picked.runner);
      // NOTE: named statements are parsed and planned once per connection, not on every call.
      // Behind a transaction pooler the next statement may land on another server session, where
      // the name is unknown (or taken): unnamed statements there.
      else if (this.namedStatements) {
        const name = statementName(text);
        result = client
          ? picked.named(client, name, text, values)
          : this.pool.query<R>({ name, text, values }).then(picked.pg);
      } else result = (client ?? this.pool).query<R>({ text, values }).then(picked.pg);
    } catch (err) {
      return Promise.reject(engineStatementFailed(err));
    }
    // NOTE: no async wrapper: two promises fewer per statement (each costs async-hook work).
    return result.catch(rethrowEngineFailure);
  }

  /**
   * Claims the carrier's unsaved state (see {@link StateCarrier.claimState}) for one write, with the
   * connection to write it on: `runner`'s, or a pooled one taken before the claim, so a claim is
   * never held while waiting for the pool (which transactional steps waiting for the claim may
   * hold). `end` must be called once the write ended.
   *
   * The pooled connection is the one the carrier's previous write used when that write ended in
   * the current event-loop turn (see {@link TurnConnection}): a pass's checkpoints that follow each
   * other without awaiting anything else (no-op or CPU-only step bodies) take no pool checkout.
   * @internal
   */
  async claimWrite(carrier?: StateCarrier, runner?: QueryRunner): Promise<ClaimedWrite> {
    // A refused or timed-out connection fails like a statement: an engine fault, never user code's.
    const held = carrier && !runner ? this.turnConnections.get(carrier)?.take() : undefined;
    const conn =
      held ??
      (carrier && !runner
        ? new TurnConnection(await engineStatement(() => this.pool.connect()), this.pool)
        : undefined);
    let failed = false;
    let claim: StateClaim | null;
    try {
      // NOTE: nothing to claim (the common step) is known at once: no await of an async claim.
      claim = carrier && !carrier.stateSettled() ? ((await carrier.claimState()) ?? null) : null;
    } catch (err) {
      conn?.release();
      throw err;
    }
    // NOTE: registered before the caller's await, so it runs before the caller's `end`.
    const watch = <T>(outcome: Promise<T>): Promise<T> => {
      if (conn) outcome.catch(() => (failed = true));
      return outcome;
    };
    return {
      claim,
      query: <R extends QueryResultRow>(text: string, values: unknown[]) =>
        watch(this.query<R>(text, values, runner, conn?.client)),
      count: (text, values) => watch(this.count(text, values, runner, conn?.client)),
      end: (saved) => {
        claim?.done(saved);
        if (!conn) return;
        // NOTE: kept for the carrier's next write only when nothing is wrong with it and no other
        // write of the carrier keeps one already (parallel checkpoints each took their own).
        const current = this.turnConnections.get(carrier!);
        if (failed || (current?.kept && current !== conn) || !conn.keep()) conn.release();
        else this.turnConnections.set(carrier!, conn);
      },
    };
  }

  /** Runs `fn` in one transaction on one pooled connection (failures tagged as in `query`). @internal */
  transaction<T>(fn: (client: PoolClient) => Promise<T>, isolation?: IsolationLevel): Promise<T> {
    return engineStatement(() => this.db.transaction(fn, isolation));
  }
}

/**
 * A pooled connection a pass's write took, which the pass may keep for its next write until the
 * end of the current event-loop turn (a `setImmediate`), then returns to the pool. It is not kept
 * when another client already waits for the pool (`waitingCount`), nor ever across anything that
 * awaits I/O (a step body that awaits a timer or a query: its turn ends first), so keeping it can
 * neither starve other passes, transactional steps or the application (a shared DataSource) nor
 * deadlock at any concurrency: a client that starts waiting meanwhile gets it at the turn's end.
 * A connection the server dropped meanwhile (`error` event) is destroyed, never reused. @internal
 */
export class TurnConnection extends HeldConnection {
  /** A write runs on it (`take` … `keep`/`release`). */
  private busy = true;

  /** This connection for the next write, if it is kept and free; `undefined` otherwise. */
  take(): TurnConnection | undefined {
    if (this.busy || !this.healthy) return undefined;
    this.stopTurnTimer();
    this.busy = true;
    return this;
  }

  /**
   * Ends a write on it: keeps it for the rest of the turn and returns `true`, unless it is broken
   * or a client waits for the pool (then the caller releases it).
   */
  keep(): boolean {
    if (!this.healthy || this.poolBusy) return false;
    this.busy = false;
    this.holdForTurn(() => this.release());
    return true;
  }

  /** Returns it to the pool (destroyed when the server dropped it); idempotent. */
  release(): void {
    this.busy = false;
    this.returnToPool();
  }
}

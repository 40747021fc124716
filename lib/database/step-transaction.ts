import pg, { type Pool, type PoolClient } from 'pg';
import { QueryFailedError, type QueryRunner } from 'typeorm';
import type { IsolationLevel } from './chrono-forge-database.js';
import {
  type CheckpointStatement,
  CountingQuery,
  handleCommandComplete,
  OVER_CONNECTION,
  preparedName,
  preparedOn,
} from './commit-query.js';
import { engineStatement, engineStatementFailed } from './engine-statement.js';
import { sqlState } from './transient-error.js';
import { adoptConnection, type TxChains, TxConnection } from './tx-connection.js';

/** The isolation levels a step transaction may name in its `START TRANSACTION`. */
const ISOLATION_LEVELS: ReadonlySet<string> = new Set<IsolationLevel>([
  'READ COMMITTED',
  'REPEATABLE READ',
  'SERIALIZABLE',
]);

export { type CheckpointStatement, sqlLiteral, type SqlValue } from './commit-query.js';

/** What the direct path reads and keeps in step of TypeORM's `PostgresQueryRunner`. */
interface RunnerInternals {
  isTransactionActive: boolean;
  transactionDepth: number;
  readonly isReleased: boolean;
  databaseConnection: unknown;
}

/**
 * Whether the step transaction can drive `runner`'s connection directly: TypeORM's PostgreSQL
 * runner (a `transactionDepth` it keeps the savepoints by), and a DataSource without subscribers
 * (their transaction events are TypeORM's `startTransaction` / `commitTransaction`'s to send).
 * Otherwise the transaction goes through TypeORM.
 */
function directRunner(runner: QueryRunner): boolean {
  const internals = runner as unknown as Partial<RunnerInternals>;
  return (
    handleCommandComplete !== undefined &&
    runner.dataSource.driver.options.type === 'postgres' &&
    runner.dataSource.subscribers.length === 0 &&
    typeof internals.transactionDepth === 'number' &&
    internals.transactionDepth === 0 &&
    !runner.isTransactionActive
  );
}

/** The pg connection under `runner`, when the step transaction can drive it directly. */
function directClient(runner: QueryRunner, client: unknown): PoolClient | undefined {
  return directRunner(runner) && client instanceof pg.Client ? (client as PoolClient) : undefined;
}

/**
 * The pass a step transaction belongs to, for its connection's reuse by the pass's next
 * transactional step (see `TxConnection`): the pool to take connections from, the pass's scope
 * object, and the chains.
 */
export interface StepTransactionPass {
  readonly pool: Pool;
  readonly pass: object;
  readonly chains: TxChains;
}

/**
 * A transactional step's transaction on a TypeORM QueryRunner, begun and committed in as few round
 * trips as the driver allows: `START TRANSACTION ISOLATION LEVEL …` in one round trip (TypeORM's
 * `startTransaction` takes two), and the step's checkpoint and `COMMIT` in one query string. The
 * runner's own state (`isTransactionActive`, its savepoint depth) is kept as TypeORM keeps it, so
 * the step's `ctx.manager` — including a nested `manager.transaction()`, a savepoint — works as
 * on a transaction TypeORM began. Falls back to TypeORM's methods (`direct` false) when the runner
 * is not the expected one. @internal
 */
export class StepTransaction {
  private constructor(
    /** The QueryRunner: its `manager` is the step's `ctx.manager`. */
    readonly runner: QueryRunner,
    private readonly client: PoolClient | undefined,
    private readonly isolation: IsolationLevel,
    /** The connection and its pass, when the runner was given the pass's connection. */
    private readonly chained?: { conn: TxConnection; pass: StepTransactionPass },
  ) {}

  /**
   * Whether `commitWith` may send the checkpoint and `COMMIT` together: the direct path, with the
   * transaction open at its top level (no savepoint of the body left open).
   */
  get direct(): boolean {
    const internals = this.runner as unknown as RunnerInternals;
    return (
      this.client !== undefined &&
      internals.isTransactionActive &&
      internals.transactionDepth === 1 &&
      !internals.isReleased
    );
  }

  /** Whether the transaction is open (also after a failed statement, until its rollback). */
  get active(): boolean {
    return this.runner.isTransactionActive;
  }

  /**
   * Takes a pooled connection for `runner` and begins its transaction at `isolation`. What fails
   * is tagged as an engine statement's failure; the runner is released then.
   */
  static async begin(
    runner: QueryRunner,
    isolation: IsolationLevel,
    pass?: StepTransactionPass,
  ): Promise<StepTransaction> {
    if (pass && ISOLATION_LEVELS.has(isolation) && directRunner(runner)) {
      const chained = await StepTransaction.beginOnPassConnection(runner, isolation, pass);
      if (chained) return chained;
    }
    try {
      const connection: unknown = await engineStatement(() => runner.connect());
      const client = ISOLATION_LEVELS.has(isolation) ? directClient(runner, connection) : undefined;
      if (client) {
        await engineStatement(() => client.query(`START TRANSACTION ISOLATION LEVEL ${isolation}`));
        StepTransaction.begun(runner);
      } else await engineStatement(() => runner.startTransaction(isolation));
      return new StepTransaction(runner, client, isolation);
    } catch (err) {
      await runner.release();
      throw err;
    }
  }

  /**
   * {@link begin} on the connection the pass kept with a transaction pre-started (no round trip),
   * or on one taken from the pool; `undefined` when the runner cannot be given a connection.
   */
  private static async beginOnPassConnection(
    runner: QueryRunner,
    isolation: IsolationLevel,
    pass: StepTransactionPass,
  ): Promise<StepTransaction | undefined> {
    let conn = pass.chains.take(pass.pass, isolation);
    const prestarted = conn !== undefined;
    conn ??= new TxConnection(await engineStatement(() => pass.pool.connect()), pass.pool);
    const taken = conn;
    const adopted =
      taken.client instanceof pg.Client &&
      adoptConnection(runner, taken, (err) => pass.chains.release(pass.pass, taken, err));
    if (!adopted) {
      taken.end();
      return undefined;
    }
    taken.prestarted = undefined;
    if (!prestarted) {
      try {
        await engineStatement(() =>
          taken.client.query(`START TRANSACTION ISOLATION LEVEL ${isolation}`),
        );
      } catch (err) {
        taken.end(err as Error);
        await runner.release();
        throw err;
      }
    }
    StepTransaction.begun(runner);
    return new StepTransaction(runner, taken.client, isolation, { conn: taken, pass });
  }

  /** Keeps the runner's state as TypeORM's `startTransaction` would. */
  private static begun(runner: QueryRunner): void {
    const internals = runner as unknown as RunnerInternals;
    internals.isTransactionActive = true;
    internals.transactionDepth = 1;
  }

  /**
   * Runs `checkpoint` (one statement returning one row when it wrote, failing when it is refused)
   * and `COMMIT` in one round trip, on the direct path only: as the EXECUTE of a statement prepared
   * on this connection (prepared, by a `PREPARE` in the same query string, on its first use), or
   * with its values inlined. Resolves with the checkpoint's row; otherwise tells which of the two
   * statements failed, with a TypeORM `QueryFailedError` (as `runner.query` would throw: `query`
   * the checkpoint's text and `parameters` its values, or `COMMIT`) tagged as an engine
   * statement's failure. After a failed checkpoint the transaction is open and aborted (roll it
   * back); after a failed `COMMIT` it is over (PostgreSQL rolled it back).
   */
  async commitWith<R>(
    checkpoint: CheckpointStatement,
  ): Promise<{ row: R | undefined } | { failed: 'checkpoint' | 'commit'; error: unknown }> {
    const client = this.client!;
    const { literals } = checkpoint;
    const name = checkpoint.inline ? undefined : preparedName(checkpoint.text);
    let known = preparedOn.get(client);
    const prepare = name !== undefined && !known?.has(name);
    const statements: string[] = [];
    if (prepare) {
      const types = checkpoint.types.slice(0, literals.length).join(', ');
      statements.push(`PREPARE ${name} (${types}) AS ${checkpoint.text}`);
    }
    statements.push(
      name ? `EXECUTE ${name}(${literals.join(', ')})` : checkpoint.inline!(literals),
      'COMMIT',
    );
    // The pass runs transactional steps back to back: the COMMIT also begins the next one's.
    const chained = this.chained;
    const prestart = chained?.pass.chains.prestartNext(chained.pass.pass, chained.conn) === true;
    if (prestart) statements.push(`START TRANSACTION ISOLATION LEVEL ${this.isolation}`);
    const commitAt = statements.indexOf('COMMIT');
    const internals = this.runner as unknown as RunnerInternals;
    if (prestart) internals.databaseConnection = OVER_CONNECTION;
    let rows: R[] = [];
    let query!: CountingQuery;
    const failure = await new Promise<unknown>((resolve) => {
      // A callback, not events: pg's query_timeout wraps the callback of the query it times out.
      query = new CountingQuery(statements.join(';\n'), undefined, (err, results) => {
        if (err) return resolve(err);
        // Several statements: one result each, the checkpoint's just before the COMMIT's.
        const all: unknown[] = Array.isArray(results) ? results : [results];
        rows = (all[commitAt - 1] as { rows?: R[] } | undefined)?.rows ?? [];
        resolve(undefined);
      });
      client.query(query);
    });
    // NOTE: the CommandComplete of each statement arrives before a later one's ErrorResponse, and
    // a PREPARE outlives the transaction it ran in (prepared statements are not transactional).
    const code = sqlState(failure);
    if (name !== undefined) {
      const prepared = (prepare && query.completed > 0) || code === '42P05';
      if (prepared || code === '26000') {
        known ??= new Set<string>();
        preparedOn.set(client, known);
        // 26000: gone (a DEALLOCATE or DISCARD in the body); 42P05: there already.
        if (prepared) known.add(name);
        else known.delete(name);
      }
    }
    if (failure === undefined) {
      this.ended();
      if (chained) {
        if (prestart) chained.conn.prestarted = this.isolation;
        chained.pass.chains.committed(chained.pass.pass);
      }
      return { row: rows[0] };
    }
    // Not committed: the runner has its connection back (for the rollback).
    if (prestart && query.completed <= commitAt) internals.databaseConnection = client;
    if (query.completed > commitAt) {
      // Committed; the next transaction's START failed (the connection is going: destroyed on
      // release). The checkpoint's row is not at hand: the caller reads the step's log back
      // (as after a refused checkpoint, which finds this pass's own row).
      this.ended();
      chained?.conn.end(failure as Error);
      return { row: undefined };
    }
    // No answer of the server (a client-side timeout, a lost connection): the query string may
    // still run, its START included; the connection must never go back to the pool.
    if (prestart && code === undefined) chained.conn.end(failure as Error);
    const failed = query.completed >= commitAt ? 'commit' : 'checkpoint';
    if (failed === 'commit') this.ended();
    const error = engineStatementFailed(
      failed === 'commit'
        ? new QueryFailedError('COMMIT', [], failure as Error)
        : new QueryFailedError(checkpoint.text, [...checkpoint.values], failure as Error),
    );
    return { failed, error };
  }

  /** Commits through TypeORM (the path without `commitWith`). */
  commit(): Promise<void> {
    return this.runner.commitTransaction();
  }

  /**
   * Rolls the transaction back (a failed or refused step), with the savepoints the body left open
   * (TypeORM rolls back one level per call); nothing when it is over.
   */
  async rollback(): Promise<void> {
    while (this.runner.isTransactionActive) await this.runner.rollbackTransaction();
  }

  /**
   * Whether the body left the transaction as it began it: open, with no savepoint of its own open
   * (a `queryRunner.startTransaction()` without its commit or rollback) — else committing would
   * release the savepoint and return the connection inside the transaction.
   */
  get balanced(): boolean {
    const internals = this.runner as unknown as RunnerInternals;
    return internals.isTransactionActive && internals.transactionDepth === 1;
  }

  /** Returns the connection to the pool. */
  release(): Promise<void> {
    return this.runner.release();
  }

  /** The transaction ended on the server: keep the runner's state in step. */
  private ended(): void {
    const internals = this.runner as unknown as RunnerInternals;
    internals.isTransactionActive = false;
    internals.transactionDepth = 0;
  }
}

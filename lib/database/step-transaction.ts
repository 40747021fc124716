import { createHash } from 'node:crypto';
import pg, { type PoolClient } from 'pg';
import { QueryFailedError, type QueryRunner } from 'typeorm';
import type { IsolationLevel } from './chrono-forge-database.js';
import { engineStatement, engineStatementFailed } from './engine-statement.js';
import { sqlState } from './transient-error.js';

/** The isolation levels a step transaction may name in its `START TRANSACTION`. */
const ISOLATION_LEVELS: ReadonlySet<string> = new Set<IsolationLevel>([
  'READ COMMITTED',
  'REPEATABLE READ',
  'SERIALIZABLE',
]);

/**
 * `value` as a SQL literal of `type` (`'…'::type`, or `NULL::type`), escaped by pg; `undefined`
 * when a query string cannot carry it (a NUL character: pg would cut the string there). @internal
 */
export function sqlLiteral(value: SqlValue, type: string): string | undefined {
  if (value === null) return `NULL::${type}`;
  const text = value instanceof Date ? value.toISOString() : String(value);
  if (text.includes('\u0000')) return undefined;
  return `${pg.escapeLiteral(text)}::${type}`;
}

/** A value of a checkpoint's parameter. */
export type SqlValue = string | number | Date | null;

/** The checkpoint a transactional step sends with its `COMMIT` (see `StepTransaction.commitWith`). */
export interface CheckpointStatement {
  /** The statement, with parameters `$1`..`$n`: what is prepared, and the `query` of its errors. */
  readonly text: string;
  /** The SQL types of its parameters (at least `values.length` of them). */
  readonly types: readonly string[];
  /** The parameters' values (the `parameters` of its errors). */
  readonly values: readonly SqlValue[];
  /** The same as SQL literals ({@link sqlLiteral} of each value and its type). */
  readonly literals: readonly string[];
  /**
   * The statement with the given literals in place of its parameters, sent instead of a prepared
   * statement's EXECUTE: where a name would not outlive the transaction (a transaction pooler).
   */
  readonly inline?: (literals: readonly string[]) => string;
}

/** Names of the checkpoints prepared on each connection (a PREPARE lasts for the session). */
const preparedOn = new WeakMap<object, Set<string>>();

/** The name a checkpoint's text is prepared under (distinct from pg's own `cf_` names). */
function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `cf_commit_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    preparedNames.set(text, name);
  }
  return name;
}

const preparedNames = new Map<string, string>();

/** What the direct path reads and keeps in step of TypeORM's `PostgresQueryRunner`. */
interface RunnerInternals {
  isTransactionActive: boolean;
  transactionDepth: number;
  readonly isReleased: boolean;
}

/** pg's `Query` handler of a statement's CommandComplete (pg-cursor and pg-query-stream use it). */
type CommandCompleteHandler = (this: pg.Query, ...args: unknown[]) => void;

const handleCommandComplete = (pg.Query.prototype as unknown as Record<string, unknown>)
  .handleCommandComplete as CommandCompleteHandler | undefined;

/**
 * A simple-protocol query that counts the statements of its query string that completed, so that
 * when it fails, the caller knows which statement failed: the first one not counted.
 */
class CountingQuery extends pg.Query {
  /** Statements of the query string that completed (CommandComplete received). */
  completed = 0;

  /** Counts a completed statement, then lets pg handle it. */
  handleCommandComplete(...args: unknown[]): void {
    this.completed++;
    handleCommandComplete!.apply(this, args);
  }
}

/**
 * The pg connection under `runner`, when the step transaction can drive it directly: TypeORM's
 * PostgreSQL runner (a `transactionDepth` it keeps the savepoints by) on a `pg` client, and a
 * DataSource without subscribers (their transaction events are TypeORM's `startTransaction` /
 * `commitTransaction`'s to send). Otherwise `undefined`: the transaction goes through TypeORM.
 */
function directClient(runner: QueryRunner, client: unknown): PoolClient | undefined {
  const internals = runner as unknown as Partial<RunnerInternals>;
  if (
    handleCommandComplete === undefined ||
    runner.dataSource.driver.options.type !== 'postgres' ||
    runner.dataSource.subscribers.length > 0 ||
    typeof internals.transactionDepth !== 'number' ||
    internals.transactionDepth !== 0 ||
    runner.isTransactionActive ||
    !(client instanceof pg.Client)
  )
    return undefined;
  return client as PoolClient;
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
  static async begin(runner: QueryRunner, isolation: IsolationLevel): Promise<StepTransaction> {
    try {
      const connection: unknown = await engineStatement(() => runner.connect());
      const client = ISOLATION_LEVELS.has(isolation) ? directClient(runner, connection) : undefined;
      if (client) {
        await engineStatement(() => client.query(`START TRANSACTION ISOLATION LEVEL ${isolation}`));
        const internals = runner as unknown as RunnerInternals;
        internals.isTransactionActive = true;
        internals.transactionDepth = 1;
      } else await engineStatement(() => runner.startTransaction(isolation));
      return new StepTransaction(runner, client);
    } catch (err) {
      await runner.release();
      throw err;
    }
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
    let rows: R[] = [];
    let query!: CountingQuery;
    const failure = await new Promise<unknown>((resolve) => {
      // A callback, not events: pg's query_timeout wraps the callback of the query it times out.
      query = new CountingQuery(statements.join(';\n'), undefined, (err, results) => {
        if (err) return resolve(err);
        // Several statements: one result each, the checkpoint's just before the COMMIT's.
        const all: unknown[] = Array.isArray(results) ? results : [results];
        rows = (all[all.length - 2] as { rows?: R[] } | undefined)?.rows ?? [];
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
      return { row: rows[0] };
    }
    const failed = query.completed >= statements.length - 1 ? 'commit' : 'checkpoint';
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

  /** Rolls the transaction back (a failed or refused step); nothing when it is over. */
  async rollback(): Promise<void> {
    if (this.runner.isTransactionActive) await this.runner.rollbackTransaction();
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

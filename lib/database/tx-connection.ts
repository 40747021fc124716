import type { QueryRunner } from 'typeorm';
import type { IsolationLevel } from './chrono-forge-database.js';
import { HeldConnection } from './held-connection.js';

/** What adopting a connection sets on TypeORM's `PostgresQueryRunner`, as its `connect` would. */
interface AdoptingRunner {
  databaseConnection?: unknown;
  databaseConnectionPromise?: unknown;
  releaseCallback?: (err?: Error) => void;
  readonly isReleased?: boolean;
  readonly releasePostgresConnection?: unknown;
  readonly driver?: { connectedQueryRunners?: unknown };
}

/**
 * The pooled connection of a transactional step (the direct path of `StepTransaction`). When the
 * pass runs transactional steps back to back, a step's `COMMIT` also begins the next step's
 * transaction (`prestarted`, same query string) and the connection is kept for the pass's next
 * step until the end of the event-loop turn, as `TurnConnection` keeps a checkpoint's: the next
 * step then begins with no round trip and no pool checkout. A kept connection nobody takes is
 * rolled back and returned at the turn's end. A pre-started transaction has run no statement: it
 * holds no lock and no snapshot (READ COMMITTED takes one per statement, REPEATABLE READ and
 * SERIALIZABLE at the first statement), so the next step sees what it would on a fresh one.
 * @internal
 */
export class TxConnection extends HeldConnection {
  /** The isolation level of the transaction begun for the pass's next step, if one was. */
  prestarted: IsolationLevel | undefined;
  /** Its ROLLBACK is on the way (then it is returned). */
  private rollingBack = false;

  /**
   * Keeps it, with its pre-started transaction, until the end of the current turn (then rolled
   * back and returned, after `expired`); `false` when it cannot be kept (the caller ends it).
   */
  keepForTurn(expired: () => void): boolean {
    if (!this.healthy || this.prestarted === undefined || this.poolBusy) return false;
    this.holdForTurn(() => {
      expired();
      this.end();
    });
    return true;
  }

  /** Taken back for the pass's next step: no longer ended at the turn's end. */
  claim(): void {
    this.stopTurnTimer();
  }

  /**
   * Returns it to the pool; a pre-started transaction is rolled back first (in the background).
   * With `err` (or after the server dropped it) it is destroyed instead. Idempotent.
   */
  end(err?: Error): void {
    if (!this.kept) return;
    if (this.rollingBack) {
      // Returned once its ROLLBACK answers: destroyed then, if something found it broken.
      if (err) this.markBroken(err);
      return;
    }
    this.stopTurnTimer();
    if (this.prestarted !== undefined && err === undefined && this.healthy) {
      this.prestarted = undefined;
      this.rollingBack = true;
      this.client.query('ROLLBACK').then(
        () => this.returnToPool(),
        (e: Error) => this.returnToPool(e),
      );
      return;
    }
    this.returnToPool(err);
  }
}

/** A pass's transactional steps: whether they run back to back, and the connection kept. */
interface Chain {
  /** A step of the pass committed in the current turn. */
  recent: boolean;
  /** A step began in the turn its previous one committed in: commits pre-start the next. */
  chained: boolean;
  kept: TxConnection | undefined;
}

/**
 * The transactional steps of each pass (by its scope object): the connection kept for the next
 * one (see {@link TxConnection}). A pass's commits pre-start the next transaction only once the
 * pass has shown it runs them back to back (a step began in the turn its previous one committed
 * in), and stop when a kept connection goes unused, so a lone transactional step costs no extra
 * statement. @internal
 */
export class TxChains {
  private readonly chains = new WeakMap<object, Chain>();

  private chainOf(pass: object): Chain {
    let chain = this.chains.get(pass);
    if (!chain) {
      chain = { recent: false, chained: false, kept: undefined };
      this.chains.set(pass, chain);
    }
    return chain;
  }

  /**
   * A step of `pass` begins: the connection kept for it with a transaction at `isolation`
   * pre-started, if there is one (a kept one of another isolation level is ended).
   */
  take(pass: object, isolation: IsolationLevel): TxConnection | undefined {
    const chain = this.chains.get(pass);
    if (!chain) return undefined;
    if (chain.recent) chain.chained = true;
    const kept = chain.kept;
    chain.kept = undefined;
    if (!kept) return undefined;
    if (kept.prestarted !== isolation || !kept.healthy) {
      kept.end();
      return undefined;
    }
    kept.claim();
    return kept;
  }

  /** Whether the `COMMIT` of a step of `pass` on `conn` should begin the next step's transaction. */
  prestartNext(pass: object, conn: TxConnection): boolean {
    return this.chains.get(pass)?.chained === true && conn.healthy && !conn.poolBusy;
  }

  /** A step of `pass` committed. */
  committed(pass: object): void {
    const chain = this.chainOf(pass);
    if (chain.recent) return;
    chain.recent = true;
    setImmediate(() => {
      chain.recent = false;
    });
  }

  /**
   * A step's runner released `conn` (`err`: TypeORM found it broken): kept for the pass's next
   * step when its transaction was pre-started, else returned to the pool.
   */
  release(pass: object, conn: TxConnection, err?: Error): void {
    const chain = this.chainOf(pass);
    if (err === undefined && conn.prestarted !== undefined && chain.kept === undefined) {
      const kept = conn.keepForTurn(() => {
        if (chain.kept !== conn) return;
        // Not taken: the pass stopped running transactional steps back to back.
        chain.kept = undefined;
        chain.chained = false;
      });
      if (kept) {
        chain.kept = conn;
        return;
      }
    }
    conn.end(err);
  }
}

/**
 * Makes `runner` (TypeORM's PostgreSQL runner, not connected yet) use `conn`, as its own `connect`
 * would with a pooled connection; its `release` calls `released`. `false` (nothing changed) when
 * the runner is not the one expected.
 */
export function adoptConnection(
  runner: QueryRunner,
  conn: TxConnection,
  released: (err?: Error) => void,
): boolean {
  const internals = runner as unknown as AdoptingRunner;
  const runners = internals.driver?.connectedQueryRunners;
  if (
    internals.databaseConnection !== undefined ||
    internals.databaseConnectionPromise !== undefined ||
    internals.isReleased !== false ||
    typeof internals.releasePostgresConnection !== 'function' ||
    !Array.isArray(runners)
  )
    return false;
  internals.databaseConnection = conn.client;
  internals.releaseCallback = released;
  runners.push(runner);
  return true;
}

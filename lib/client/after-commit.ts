import type {
  DataSource,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  TransactionStartEvent,
} from 'typeorm';

/** A callback waiting for the commit of the transaction (or savepoint) it was registered in. */
interface Pending {
  /** Transaction depth at registration: 1 the transaction itself, 2+ inside savepoints. */
  depth: number;
  run: () => void;
}

const pending = new WeakMap<QueryRunner, Pending[]>();

/**
 * TypeORM's `QueryRunner` keeps its savepoint depth in a protected field; 1 when it cannot be
 * read (the callback then follows the outermost transaction only).
 */
function depthOf(runner: QueryRunner): number {
  const depth = (runner as unknown as { transactionDepth?: unknown }).transactionDepth;
  return typeof depth === 'number' && depth > 0 ? depth : 1;
}

/**
 * Runs the callbacks of a query runner when its outermost transaction commits; drops those of a
 * rolled-back transaction or savepoint.
 */
class AfterCommitSubscriber implements EntitySubscriberInterface {
  afterTransactionStart(event: TransactionStartEvent): void {
    // A new outermost transaction on a reused runner: callbacks of a failed commit are stale.
    if (depthOf(event.queryRunner) === 1) pending.delete(event.queryRunner);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    const list = pending.get(runner);
    if (!list) return;
    if (runner.isTransactionActive) {
      // A savepoint was released: its callbacks now belong to the enclosing level.
      const depth = depthOf(runner);
      for (const p of list) p.depth = Math.min(p.depth, depth);
      return;
    }
    pending.delete(runner);
    for (const p of list) p.run();
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const runner = event.queryRunner;
    const list = pending.get(runner);
    if (!list) return;
    if (!runner.isTransactionActive) {
      pending.delete(runner);
      return;
    }
    const depth = depthOf(runner);
    pending.set(
      runner,
      list.filter((p) => p.depth <= depth),
    );
  }
}

/**
 * Runs `callback` once the transaction `runner` is in commits — not if it (or the savepoint the
 * call was made in) rolls back. Uses a TypeORM transaction subscriber, added once to the runner's
 * DataSource. The callback must not throw.
 */
export function afterCommit(runner: QueryRunner, callback: () => void): void {
  const dataSource: DataSource = runner.connection;
  // Checked each time: initialize() replaces a DataSource's subscriber list.
  if (!dataSource.subscribers.some((s) => s instanceof AfterCommitSubscriber)) {
    dataSource.subscribers.push(new AfterCommitSubscriber());
  }
  const list = pending.get(runner) ?? [];
  list.push({ depth: depthOf(runner), run: callback });
  pending.set(runner, list);
}

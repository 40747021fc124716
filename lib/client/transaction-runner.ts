import type { EntityManager, QueryRunner } from 'typeorm';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';

/**
 * The query runner of `manager`'s active transaction (`start({ manager })`, `signal(…, { manager })`),
 * or `undefined` without a manager; `what` names the call in the error.
 */
export function transactionRunner(
  manager: EntityManager | undefined,
  what: string,
): QueryRunner | undefined {
  if (manager === undefined) return undefined;
  const runner = manager?.queryRunner;
  if (!runner || !runner.isTransactionActive) {
    throw new InvalidOptionsError(
      `${what}({ manager }) needs the EntityManager of an active transaction, e.g. inside dataSource.transaction(async (manager) => …).`,
    );
  }
  return runner;
}

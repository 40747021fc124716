/** The query string a transactional step commits with: its checkpoint's literals and statement. */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { QueryRunnerAlreadyReleasedError } from 'typeorm';

/**
 * `value` as a SQL literal of `type` (`'…'::type`, or `NULL::type`), escaped by pg; `undefined`
 * when a query string cannot carry it (a NUL character: pg would cut the string there). @internal
 */
export function sqlLiteral(value: SqlValue, type: string): string | undefined {
  if (value === null) return `NULL::${type}`;
  const text = value instanceof Date ? value.toISOString() : String(value);
  if (text.includes('\u0000')) return undefined;
  // NOTE: pg's escapeLiteral builds its result a character at a time (~2 µs a checkpoint, more
  // for a large result); text with no quote or backslash is quoted as it is, as it would be.
  return `${NEEDS_ESCAPE.test(text) ? pg.escapeLiteral(text) : `'${text}'`}::${type}`;
}

/** What {@link sqlLiteral} must escape: quotes and backslashes (`E'…'`). */
const NEEDS_ESCAPE = /['\\]/;

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
export const preparedOn = new WeakMap<object, Set<string>>();

/** The name a checkpoint's text is prepared under (distinct from pg's own `cf_` names). */
export function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `cf_commit_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    preparedNames.set(text, name);
  }
  return name;
}

const preparedNames = new Map<string, string>();

/** pg's `Query` handler of a statement's CommandComplete (pg-cursor and pg-query-stream use it). */
type CommandCompleteHandler = (this: pg.Query, ...args: unknown[]) => void;

export const handleCommandComplete = (pg.Query.prototype as unknown as Record<string, unknown>)
  .handleCommandComplete as CommandCompleteHandler | undefined;

/**
 * A simple-protocol query that counts the statements of its query string that completed, so that
 * when it fails, the caller knows which statement failed: the first one not counted. @internal
 */
export class CountingQuery extends pg.Query {
  /** Statements of the query string that completed (CommandComplete received). */
  completed = 0;

  /** Counts a completed statement, then lets pg handle it. */
  handleCommandComplete(...args: unknown[]): void {
    this.completed++;
    handleCommandComplete!.apply(this, args);
  }
}

/**
 * What a step's runner queries on once its COMMIT that begins the next step's transaction is
 * sent: a query the body left in flight fails (as after the runner's release) instead of running
 * in the next step's transaction, or being rolled back with an unused one. @internal
 */
export const OVER_CONNECTION = {
  query: (): Promise<never> => Promise.reject(new QueryRunnerAlreadyReleasedError()),
};

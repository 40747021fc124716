import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';

type Rows<R extends QueryResultRow> = (err: Error | undefined, result: pg.ResultBuilder<R>) => void;

/**
 * A prepared statement (`name`, parsed and planned once per connection) as pg's own `Query`: pg
 * runs a `Query` it is given as is, where a config object (`{ name, text, values }`) is copied
 * property by property on every call (~4.5 µs a statement, issue #22). @internal
 */
class NamedQuery<R extends QueryResultRow> extends pg.Query<R> {
  constructor(name: string, text: string, values: unknown[], callback: Rows<R>) {
    super(text, values, callback);
    (this as unknown as { name: string }).name = name;
  }
}

/**
 * Runs the prepared statement `name` (`text`, `values`) on a checked-out `client` and resolves
 * with its rows.
 *
 * NOTE: the statement goes as a `Query` object with its own callback only to a client of this
 * library's pg (a pool the DataSource built on `pg-native` or on another copy of pg gets a config
 * object, as it always did), and never through `pool.query`: before pg 8.19 (the peer range allows
 * 8.13) a Query object given to `pool.query` never got the pool's callback, so it neither settled
 * nor returned its connection. @internal
 */
export function namedQuery<R extends QueryResultRow>(
  client: PoolClient,
  name: string,
  text: string,
  values: unknown[],
): Promise<R[]> {
  return named(client, name, text, values, (r: { rows: R[] }) => r.rows);
}

/**
 * {@link namedQuery} for a statement that returns no rows: resolves with the number of rows it
 * wrote (its command tag's count). @internal
 */
export function namedCount(
  client: PoolClient,
  name: string,
  text: string,
  values: unknown[],
): Promise<number> {
  return named(client, name, text, values, (r: { rowCount: number | null }) => r.rowCount ?? 0);
}

function named<R extends QueryResultRow, T>(
  client: PoolClient,
  name: string,
  text: string,
  values: unknown[],
  pick: (result: { rows: R[]; rowCount: number | null }) => T,
): Promise<T> {
  const ours: unknown = client;
  if (!(ours instanceof pg.Client)) return client.query<R>({ name, text, values }).then(pick);
  return new Promise((resolve, reject) => {
    client.query(
      new NamedQuery<R>(name, text, values, (err, result) =>
        err ? reject(err) : resolve(pick(result)),
      ),
    );
  });
}

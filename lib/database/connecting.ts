import type { DataSource, DataSourceOptions } from 'typeorm';
import { DatabaseUnavailableError } from '../errors/database-unavailable.error.js';
import { redactUrl } from '../util/redact.util.js';

/**
 * Connection settings of a `pg` pool: a connection string, or host/port/user/password/database.
 * Declared here rather than picked from `pg`'s types so the published declarations need no
 * `@types/pg`.
 */
export interface PostgresEndpoint {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string | (() => string | Promise<string>);
  database?: string;
  /** As `pg` takes it: `true`, or TLS options (`ca`, `rejectUnauthorized`, ...). */
  ssl?: boolean | object;
}

export type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

/**
 * A failure to reach or log in to the server: a socket error (`ECONNREFUSED`, `ENOTFOUND`,
 * `ETIMEDOUT`, ...), a connection timeout, or PostgreSQL's SQLSTATE classes 08 (connection
 * exception), 28 (invalid authorization) and 3D000 (no such database).
 */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (
    typeof code === 'string' &&
    (/^E[A-Z_]+$/.test(code) || /^(08|28)/.test(code) || code === '3D000')
  )
    return true;
  return /timeout|terminated unexpectedly/i.test((err as Error | null)?.message ?? '');
}

/** Where a DataSource connects, for an error message (credentials redacted). */
function describeTarget(o: PostgresConnectionOptions): string {
  if (o.url) return redactUrl(o.url);
  return `postgres://${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
}

/**
 * Initializes `ds`, turning a connection failure into one {@link DatabaseUnavailableError} that
 * names the server and what to check.
 */
export async function connecting(ds: DataSource, setting: string): Promise<void> {
  try {
    await ds.initialize();
  } catch (err) {
    if (!isConnectionError(err)) throw err;
    const o = ds.options as PostgresConnectionOptions;
    const why = redactUrl((err as Error).message || String(err));
    throw new DatabaseUnavailableError(
      `PostgreSQL at ${describeTarget(o)} is not reachable: ${why}. ` +
        `Check that the server runs and accepts connections there, and ${setting} (host, port, database, user and password).`,
      { cause: err },
    );
  }
}

/** The `pg` connection settings of a TypeORM PostgreSQL DataSource. */
export function endpointOf(o: PostgresConnectionOptions): PostgresEndpoint {
  // TypeORM hands `ssl` to pg as it is; only its TLS typings differ.
  const ssl = o.ssl === undefined ? {} : { ssl: o.ssl };
  if (o.url) return { connectionString: o.url, ...ssl };
  return {
    host: o.host,
    port: o.port,
    user: o.username,
    password: o.password,
    database: o.database,
    ...ssl,
  };
}

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import pg, { type Pool, type PoolClient } from 'pg';
import { DataSource, type DataSourceOptions, MigrationExecutor, type QueryRunner } from 'typeorm';
import { chronoForgeMigrations } from '../../migrations/index.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { EmbeddedPostgresServer } from './embedded-postgres.js';
import { chronoForgeEntities } from './entities/index.js';
import { appliedElsewhere, candidateTables, recordAsApplied } from './migrations-elsewhere.js';
import { NotInitializedError } from '../errors/not-initialized.error.js';
import { DatabaseUnavailableError } from '../errors/database-unavailable.error.js';
import { redactUrl } from '../util/redact.util.js';

/** Isolation level of a ChronoForge transaction. */
export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** Name of the table where TypeORM records which ChronoForge migrations ran. */
export const MIGRATIONS_TABLE = 'chrono_forge_migrations';

/** How long ChronoForge's own DataSource waits for a connection before boot fails. */
const CONNECT_TIMEOUT_MS = 10_000;

/** How long shutdown waits for other users of the embedded server (the queue) before stopping it. */
const EMBEDDED_RELEASE_TIMEOUT_MS = 15_000;

/** How long opening a dedicated connection may take before it counts as failed. */
const DEDICATED_CONNECT_TIMEOUT_MS = 10_000;

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

/**
 * Owns ChronoForge's PostgreSQL access: the embedded server when `database.embedded` is set, the
 * TypeORM DataSource (its own, or the application's), the underlying `pg` pool the hot path uses,
 * and running the migrations at boot.
 */
@Injectable()
export class ChronoForgeDatabase implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChronoForgeDatabase.name);
  private ds: DataSource | undefined;
  private owned = false;
  private embedded: EmbeddedPostgresServer | undefined;
  private readonly endpointReady: Promise<PostgresEndpoint>;
  private settleEndpoint!: {
    resolve: (e: PostgresEndpoint) => void;
    reject: (err: unknown) => void;
  };
  private readonly holders = new Set<symbol>();
  private onReleased: (() => void) | undefined;
  readonly schema: string;

  constructor(@Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions) {
    this.schema = options.database.schema;
    this.endpointReady = new Promise<PostgresEndpoint>(
      (resolve, reject) => (this.settleEndpoint = { resolve, reject }),
    );
    this.endpointReady.catch(() => undefined); // the failure surfaces through onModuleInit
  }

  /**
   * Where ChronoForge's database is, for other pools on it (BullMQ's PostgreSQL backend): the
   * `database.url`, the DataSource's url or host/port/user/database, or the embedded server's url.
   * Settles once the database is open (reachable and migrated); rejects with its boot error.
   */
  endpoint(): Promise<PostgresEndpoint> {
    return this.endpointReady;
  }

  /**
   * Keeps the embedded server (if any) running until the returned function is called, so that
   * shutdown stops it only after the other pools on it closed.
   */
  retain(): () => void {
    const token = Symbol('holder');
    this.holders.add(token);
    return () => {
      this.holders.delete(token);
      if (this.holders.size === 0) this.onReleased?.();
    };
  }

  /** The TypeORM DataSource ChronoForge runs on. */
  get dataSource(): DataSource {
    if (!this.ds?.isInitialized)
      throw new NotInitializedError(
        'ChronoForge database is not initialized yet: use it from onApplicationBootstrap on, or after app.init().',
      );
    return this.ds;
  }

  /** The pg pool behind the DataSource; every engine statement goes through it. @internal */
  get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  /**
   * Opens a connection of its own, outside the pool, for a long-lived job that must not wait behind
   * (or starve) the engine's statements: the wake-up listener and the worker heartbeat. Its
   * `application_name` is `chronoforge <purpose> <schema>`. The caller ends it; an `error` handler
   * is already attached (a dropped connection is noticed at the next query or by the caller's own
   * handler). @internal
   */
  async connectDedicated(purpose: string): Promise<pg.Client> {
    const endpoint = await this.endpoint();
    const client = new pg.Client({
      ...endpoint,
      application_name: `chronoforge ${purpose} ${this.schema}`.slice(0, 63),
      connectionTimeoutMillis: DEDICATED_CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  async onModuleInit(): Promise<void> {
    const { dataSource } = this.options.database;
    let { url } = this.options.database;
    try {
      if (this.options.database.embedded) {
        const { dataDir, port } = this.options.database.embedded;
        this.embedded = await EmbeddedPostgresServer.start({
          dataDir,
          port,
          onLog: (line) => this.logger.verbose(line),
        });
        this.logger.log(
          `Embedded PostgreSQL started on 127.0.0.1:${this.embedded.port} (data in ${dataDir})`,
        );
        url = this.embedded.url;
      }
    } catch (err) {
      this.settleEndpoint.reject(err);
      throw err;
    }
    try {
      await this.open(url);
    } catch (err) {
      // The queue's pools wait for the endpoint: they fail with this error, not one of their own.
      this.settleEndpoint.reject(err);
      // A failed boot gets no shutdown hooks: do not leave the embedded server running.
      if (this.owned && this.ds?.isInitialized) await this.ds.destroy().catch(() => undefined);
      await this.embedded?.stop().catch(() => undefined);
      throw err;
    }
    this.settleEndpoint.resolve(
      url
        ? { connectionString: url }
        : endpointOf(dataSource!.options as PostgresConnectionOptions),
    );
  }

  private async open(url: string | undefined): Promise<void> {
    const { dataSource, poolSize } = this.options.database;
    if (dataSource) {
      this.ds = dataSource;
      if (!dataSource.isInitialized) await connecting(dataSource, 'your DataSource');
    } else {
      this.ds = new DataSource({
        type: 'postgres',
        url,
        schema: this.schema,
        entities: chronoForgeEntities,
        migrations: chronoForgeMigrations,
        migrationsTableName: MIGRATIONS_TABLE,
        poolSize,
        applicationName: 'chronoforge',
        connectTimeoutMS: CONNECT_TIMEOUT_MS,
        logging: false,
      });
      await connecting(this.ds, 'database.url');
      this.owned = true;
    }
    if (this.options.migrationsRun) await this.runMigrations();
  }

  /**
   * Runs pending ChronoForge migrations, serialized across processes by an advisory lock. The lock
   * and the migrations share one connection, so a pool of one connection is enough to boot.
   */
  async runMigrations(): Promise<void> {
    const lockKey = `chronoforge:migrate:${this.schema}`;
    const migrator = this.owned
      ? this.dataSource
      : new DataSource({
          ...(this.dataSource.options as object),
          type: 'postgres',
          schema: this.schema,
          entities: [],
          migrations: chronoForgeMigrations,
          migrationsTableName: MIGRATIONS_TABLE,
          synchronize: false,
          migrationsRun: false,
          poolSize: 1,
        });
    if (!migrator.isInitialized) await migrator.initialize();
    const runner = migrator.createQueryRunner();
    try {
      await runner.connect();
      await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      try {
        await runner.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
        await this.adoptMigrationsAppliedElsewhere(runner, migrator.options);
        const executor = new MigrationExecutor(migrator, runner);
        executor.transaction = 'each';
        const ran = await executor.executePendingMigrations();
        if (ran.length > 0)
          this.logger.log(`Applied ${ran.length} migration(s) in schema "${this.schema}"`);
      } finally {
        await runner
          .query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey])
          .catch(() => undefined);
      }
    } finally {
      await runner.release();
      if (migrator !== this.dataSource) await migrator.destroy();
    }
  }

  /**
   * ChronoForge's migrations that the application already ran through its own DataSource (its
   * migrations table, e.g. with the TypeORM CLI) are recorded in ChronoForge's table instead of
   * being applied twice ("relation already exists").
   */
  private async adoptMigrationsAppliedElsewhere(
    runner: QueryRunner,
    migratorOptions: DataSourceOptions,
  ): Promise<void> {
    const app = this.owned ? undefined : this.dataSource.options;
    const elsewhere = await appliedElsewhere(runner, candidateTables(this.schema, app));
    if (elsewhere.length === 0) return;
    const recorded = await recordAsApplied(migratorOptions, elsewhere);
    if (recorded.length > 0)
      this.logger.log(
        `Recorded ${recorded.length} ChronoForge migration(s) your own migrations table already applied: ${recorded.join(', ')}`,
      );
  }

  /** Runs `fn` in one transaction on one pooled connection (rolled back if `fn` throws). @internal */
  async transaction<T>(
    fn: (client: PoolClient) => Promise<T>,
    isolation: IsolationLevel = 'READ COMMITTED',
  ): Promise<T> {
    const client = await this.pool.connect();
    // Dropped by the server between two statements, the connection emits 'error' (a crash with no
    // listener): remember it, and destroy the connection on release.
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned && this.ds?.isInitialized) await this.ds.destroy();
    if (!this.embedded) return;
    if (this.holders.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, EMBEDDED_RELEASE_TIMEOUT_MS);
        this.onReleased = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await this.embedded.stop();
    this.logger.log('Embedded PostgreSQL stopped');
  }
}

type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

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
async function connecting(ds: DataSource, setting: string): Promise<void> {
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
function endpointOf(o: PostgresConnectionOptions): PostgresEndpoint {
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

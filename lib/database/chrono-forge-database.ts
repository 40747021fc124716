import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import pg, { type Pool, type PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { chronoForgeMigrations } from '../../migrations/index.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { EmbeddedPostgresServer } from './embedded-postgres.js';
import { chronoForgeEntities } from './entities/index.js';
import {
  connecting,
  endpointOf,
  type PostgresConnectionOptions,
  type PostgresEndpoint,
} from './connecting.js';
import { MIGRATIONS_TABLE, runChronoForgeMigrations } from './run-migrations.js';
import { NotInitializedError } from '../errors/not-initialized.error.js';

/** Isolation level of a ChronoForge transaction. */
export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** How long ChronoForge's own DataSource waits for a connection before boot fails. */
const CONNECT_TIMEOUT_MS = 10_000;

/** How long shutdown waits for other users of the embedded server (the queue) before stopping it. */
const EMBEDDED_RELEASE_TIMEOUT_MS = 15_000;

/** How long opening a dedicated connection may take before it counts as failed. */
const DEDICATED_CONNECT_TIMEOUT_MS = 10_000;

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
   * Where work that needs a PostgreSQL session of its own connects (LISTEN, the PostgreSQL queue
   * backend): `database.directUrl` when set, otherwise the {@link endpoint}. @internal
   */
  async sessionEndpoint(): Promise<PostgresEndpoint> {
    const endpoint = await this.endpoint();
    const { directUrl } = this.options.database;
    return directUrl ? { ...endpoint, connectionString: directUrl } : endpoint;
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
   * handler). `session`: it needs a session of its own (LISTEN), so it connects to
   * `database.directUrl` when set. @internal
   */
  async connectDedicated(purpose: string, session = false): Promise<pg.Client> {
    const endpoint = session ? await this.sessionEndpoint() : await this.endpoint();
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
   * Runs pending ChronoForge migrations, serialized across processes by an advisory lock (see
   * `runChronoForgeMigrations`).
   */
  async runMigrations(): Promise<void> {
    await runChronoForgeMigrations(this.dataSource, this.owned, this.schema, this.logger, {
      directUrl: this.options.database.directUrl,
    });
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

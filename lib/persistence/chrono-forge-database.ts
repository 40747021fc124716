import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { chronoForgeMigrations } from '../../migrations/index.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../chrono-forge.constants.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import { chronoForgeEntities } from './entities/index.js';

/** Name of the table where TypeORM records which ChronoForge migrations ran. */
export const MIGRATIONS_TABLE = 'chrono_forge_migrations';

/**
 * Owns ChronoForge's PostgreSQL access: the TypeORM DataSource (its own, or the application's),
 * the underlying `pg` pool the hot path uses, and running the migrations at boot.
 */
@Injectable()
export class ChronoForgeDatabase implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChronoForgeDatabase.name);
  private ds: DataSource | undefined;
  private owned = false;
  readonly schema: string;

  constructor(@Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions) {
    this.schema = options.database.schema;
  }

  /** The TypeORM DataSource ChronoForge runs on. */
  get dataSource(): DataSource {
    if (!this.ds?.isInitialized) throw new Error('ChronoForge database is not initialized yet.');
    return this.ds;
  }

  /** The pg pool behind the DataSource; every engine statement goes through it. */
  get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  async onModuleInit(): Promise<void> {
    const { url, dataSource, poolSize } = this.options.database;
    if (dataSource) {
      this.ds = dataSource;
      if (!dataSource.isInitialized) await dataSource.initialize();
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
        logging: false,
      });
      await this.ds.initialize();
      this.owned = true;
    }
    if (this.options.migrationsRun) await this.runMigrations();
  }

  /** Runs pending ChronoForge migrations, serialized across processes by an advisory lock. */
  async runMigrations(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`chronoforge:migrate:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
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
      try {
        const ran = await migrator.runMigrations({ transaction: 'each' });
        if (ran.length > 0) this.logger.log(`Applied ${ran.length} migration(s) in schema "${this.schema}"`);
      } finally {
        if (migrator !== this.dataSource) await migrator.destroy();
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`chronoforge:migrate:${this.schema}`]).catch(() => undefined);
      client.release();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned && this.ds?.isInitialized) await this.ds.destroy();
  }
}

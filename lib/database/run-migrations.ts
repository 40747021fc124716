import type { Logger } from '@nestjs/common';
import { DataSource, type DataSourceOptions, MigrationExecutor, type QueryRunner } from 'typeorm';
import { chronoForgeMigrations } from '../../migrations/index.js';
import { appliedElsewhere, candidateTables, recordAsApplied } from './migrations-elsewhere.js';

/** Name of the table where TypeORM records which ChronoForge migrations ran. */
export const MIGRATIONS_TABLE = 'chrono_forge_migrations';

/**
 * Runs pending ChronoForge migrations in `schema`, serialized across processes by an advisory lock.
 * The lock and the migrations share one connection, so a pool of one connection is enough to boot.
 * On the application's DataSource (`owned` false) they run on a one-connection DataSource of their
 * own, with ChronoForge's migrations table.
 */
export async function runChronoForgeMigrations(
  dataSource: DataSource,
  owned: boolean,
  schema: string,
  logger: Logger,
  { directUrl }: { directUrl?: string } = {},
): Promise<void> {
  const lockKey = `chronoforge:migrate:${schema}`;
  // The advisory lock is a session's: behind a transaction pooler it runs on `directUrl`.
  const migrator =
    owned && !directUrl
      ? dataSource
      : new DataSource({
          ...(dataSource.options as object),
          ...(directUrl ? { url: directUrl } : {}),
          type: 'postgres',
          schema: schema,
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
      await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await adoptMigrationsAppliedElsewhere(
        runner,
        migrator.options,
        owned ? undefined : dataSource.options,
        schema,
        logger,
      );
      const executor = new MigrationExecutor(migrator, runner);
      executor.transaction = 'each';
      const ran = await executor.executePendingMigrations();
      if (ran.length > 0) logger.log(`Applied ${ran.length} migration(s) in schema "${schema}"`);
    } finally {
      await runner
        .query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey])
        .catch(() => undefined);
    }
  } finally {
    await runner.release();
    if (migrator !== dataSource) await migrator.destroy();
  }
}

/**
 * ChronoForge's migrations that the application already ran through its own DataSource (its
 * migrations table, e.g. with the TypeORM CLI) are recorded in ChronoForge's table instead of
 * being applied twice ("relation already exists").
 */
async function adoptMigrationsAppliedElsewhere(
  runner: QueryRunner,
  migratorOptions: DataSourceOptions,
  app: DataSourceOptions | undefined,
  schema: string,
  logger: Logger,
): Promise<void> {
  const elsewhere = await appliedElsewhere(runner, candidateTables(schema, app));
  if (elsewhere.length === 0) return;
  const recorded = await recordAsApplied(migratorOptions, elsewhere);
  if (recorded.length > 0)
    logger.log(
      `Recorded ${recorded.length} ChronoForge migration(s) your own migrations table already applied: ${recorded.join(', ')}`,
    );
}

import { DataSource, type DataSourceOptions, type QueryRunner } from 'typeorm';
import { chronoForgeMigrations } from '../../migrations/index.js';

/** TypeORM's default migrations table, used by an application's DataSource unless it names one. */
const TYPEORM_MIGRATIONS_TABLE = 'migrations';

/** A migrations table: schema and table name. */
export interface MigrationsTable {
  schema: string;
  table: string;
}

/**
 * The migrations tables an application may have run ChronoForge's migrations through (its own
 * DataSource with `chronoForgeMigrations`, e.g. with the TypeORM CLI): the given DataSource's
 * table, or TypeORM's default `migrations` table in ChronoForge's schema and in `public`.
 */
export function candidateTables(
  schema: string,
  appDataSource: DataSourceOptions | undefined,
): MigrationsTable[] {
  const found: MigrationsTable[] = appDataSource
    ? [
        {
          schema: (appDataSource as { schema?: string }).schema ?? 'public',
          table: appDataSource.migrationsTableName ?? TYPEORM_MIGRATIONS_TABLE,
        },
      ]
    : [
        { schema, table: TYPEORM_MIGRATIONS_TABLE },
        { schema: 'public', table: TYPEORM_MIGRATIONS_TABLE },
      ];
  return found.filter(
    (t, i) => found.findIndex((o) => o.schema === t.schema && o.table === t.table) === i,
  );
}

/** Names of ChronoForge's migrations that `tables` record as applied. */
export async function appliedElsewhere(
  runner: QueryRunner,
  tables: MigrationsTable[],
): Promise<string[]> {
  const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
  const names = chronoForgeMigrations.map((m) => m.name);
  const applied = new Set<string>();
  for (const { schema, table } of tables) {
    const path = `${quote(schema)}.${quote(table)}`;
    const exists = (await runner.query('SELECT to_regclass($1) AS t', [path])) as {
      t: string | null;
    }[];
    if (!exists[0]?.t) continue;
    const rows = (await runner.query(`SELECT name FROM ${path} WHERE name = ANY($1)`, [names])) as {
      name: string;
    }[];
    for (const { name } of rows) applied.add(name);
  }
  return names.filter((n) => applied.has(n));
}

/**
 * Records `names` in ChronoForge's own migrations table as applied, without running them
 * (TypeORM's `fake` run), so that `migrationsRun` does not apply them a second time.
 */
export async function recordAsApplied(
  options: DataSourceOptions,
  names: string[],
): Promise<string[]> {
  const faker = new DataSource({
    ...options,
    entities: [],
    migrations: chronoForgeMigrations.filter((m) => names.includes(m.name)),
    synchronize: false,
    migrationsRun: false,
    poolSize: 1,
  } as DataSourceOptions);
  await faker.initialize();
  try {
    return (await faker.runMigrations({ fake: true })).map((m) => m.name);
  } finally {
    await faker.destroy();
  }
}

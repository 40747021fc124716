import { Injectable } from '@nestjs/common';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { chronoForgeMigrations, Workflow, WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, sql, uniqueName } from '../support/env.js';

/** One of the application's own migrations, run in the same CLI run as ChronoForge's. */
class CreateInvoices1700000000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema: string }).schema;
    await queryRunner.query(`CREATE TABLE "${schema}".invoices (id serial PRIMARY KEY)`);
  }
  async down(): Promise<void> {}
}

@Injectable()
class Invoicing {
  @Workflow('invoices.issue')
  async issue(input: { n: number }): Promise<number> {
    return input.n + 1;
  }
}

/**
 * An application that runs ChronoForge's migrations through its own DataSource (as the TypeORM
 * CLI does: `migrations: [...chronoForgeMigrations, ...own]`, TypeORM's own `migrations` table)
 * and then boots ChronoForge on that DataSource with `migrationsRun` left at its default.
 */
describe('migrations run through the application DataSource (e2e)', () => {
  const schema = uniqueName('cf_ownmig');
  const queueName = uniqueName('q_ownmig');
  let app: Awaited<ReturnType<typeof bootApp>> | undefined;
  let dataSource: DataSource | undefined;

  afterAll(async () => {
    await app?.close();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await cleanup(schema, queueName);
  });

  it('should boot without applying them twice and record them as applied', async () => {
    await sql(`CREATE SCHEMA "${schema}"`); // TypeORM creates its migrations table in it
    dataSource = new DataSource({
      type: 'postgres',
      url: DATABASE_URL,
      schema,
      migrations: [...chronoForgeMigrations, CreateInvoices1700000000000],
    });
    await dataSource.initialize();
    expect(await dataSource.runMigrations()).toHaveLength(chronoForgeMigrations.length + 1);

    app = await bootApp({
      schema,
      queueName,
      providers: [Invoicing],
      options: { database: { dataSource, schema } },
    });
    const recorded = await sql<{ name: string }>(
      `SELECT name FROM "${schema}".chrono_forge_migrations ORDER BY id`,
    );
    expect(recorded.map((r) => r.name)).toEqual(chronoForgeMigrations.map((m) => m.name));
    const handle = await app.get(WorkflowClient).start('invoices.issue', {
      key: 'inv-1',
      input: { n: 41 },
    });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe(42);
  });
});

import type { INestApplicationContext, Provider } from '@nestjs/common';
import { Ledger, ledgerProviders } from '../fixtures/ledger.fixture.js';
import { bootApp, type TestAppOptions } from './app.js';
import { sql } from './env.js';

/**
 * An app over the ledger fixture in `schema` (the fixture finds its schema through
 * `CF_TEST_SCHEMA`, set before boot) with `providers` beside it, and the ledger table created.
 * `suiteApp`'s `boot` for the specs that count step bodies in the ledger.
 */
export async function bootLedgerApp(
  schema: string,
  queueName: string,
  providers: Provider[] = [],
  options: TestAppOptions['options'] = {},
): Promise<INestApplicationContext> {
  process.env.CF_TEST_SCHEMA = schema;
  const app = await bootApp({
    schema,
    queueName,
    providers: [...ledgerProviders, ...providers],
    options,
  });
  await Ledger.createTable(schema, { query: (q: string) => sql(q) });
  return app;
}

/**
 * A client-only app (no worker) over the ledger fixture in `schema`, with the ledger table
 * created: child worker processes, or the test itself, drive the runs.
 */
export function bootLedgerClient(
  schema: string,
  queueName: string,
): Promise<INestApplicationContext> {
  return bootLedgerApp(schema, queueName, [], { worker: false });
}

/** The steps the ledger recorded for run `key` in `schema`, in the order they ran. */
export async function ledgerSteps(schema: string, key: string): Promise<string[]> {
  const rows = await sql<{ step: string }>(
    `SELECT step FROM "${schema}".ledger WHERE key = $1 ORDER BY at, ctid`,
    [key],
  );
  return rows.map((r) => r.step);
}

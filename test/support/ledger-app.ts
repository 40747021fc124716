import type { INestApplicationContext } from '@nestjs/common';
import { Ledger, ledgerProviders } from '../fixtures/ledger.fixture.js';
import { bootApp } from './app.js';
import { sql } from './env.js';

/**
 * A client-only app (no worker) over the ledger fixture in `schema`, with the ledger table
 * created: child worker processes, or the test itself, drive the runs.
 */
export async function bootLedgerClient(
  schema: string,
  queueName: string,
): Promise<INestApplicationContext> {
  process.env.CF_TEST_SCHEMA = schema;
  const app = await bootApp({
    schema,
    queueName,
    providers: ledgerProviders,
    options: { worker: false },
  });
  await Ledger.createTable(schema, { query: (q: string) => sql(q) });
  return app;
}

import 'reflect-metadata';
import { bootApp } from '../support/app.js';
import { DATABASE_URL } from '../support/env.js';
import { chaosProviders } from './chaos.fixture.js';

/**
 * A chaos worker process: CF_TEST_SCHEMA and CF_TEST_QUEUE select the suite's schema and queue,
 * CHAOS_WORKER_ID names it in the ledger. Sends "ready" over IPC once it consumes jobs; the driver
 * SIGKILLs it at random.
 */
async function main(): Promise<void> {
  const schema = process.env.CF_TEST_SCHEMA;
  const queueName = process.env.CF_TEST_QUEUE;
  if (!schema || !queueName) throw new Error('CF_TEST_SCHEMA and CF_TEST_QUEUE are required');
  const app = await bootApp({
    schema,
    queueName,
    providers: chaosProviders,
    options: {
      database: { url: DATABASE_URL, schema, poolSize: 10 },
      worker: { concurrency: 8 },
      recovery: { every: '250ms' },
    },
  });
  process.on('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
  process.send?.('ready');
  process.stdout.write('ready\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});

import 'reflect-metadata';
import { TestClock } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { DATABASE_URL } from '../support/env.js';
import { EngineLog } from './engine-log.js';
import { fuzzProviders } from './fuzz.fixture.js';
import { FUZZ_LIMITS } from './program.js';

/**
 * A fuzz worker process (SIGKILL mode): CF_TEST_SCHEMA / CF_TEST_QUEUE select the suite's schema and
 * queue, FUZZ_CLOCK_SKEW_MS skews its engine clock against the database and the other workers.
 * Sends "ready" over IPC once it consumes jobs; the driver SIGKILLs it at random.
 */
async function main(): Promise<void> {
  const schema = process.env.CF_TEST_SCHEMA;
  const queueName = process.env.CF_TEST_QUEUE;
  if (!schema || !queueName) throw new Error('CF_TEST_SCHEMA and CF_TEST_QUEUE are required');
  const clock = new TestClock();
  clock.advance(Number(process.env.FUZZ_CLOCK_SKEW_MS ?? 0));
  const app = await bootApp({
    schema,
    queueName,
    providers: fuzzProviders,
    clock,
    options: {
      database: { url: DATABASE_URL, schema, poolSize: 8 },
      worker: { concurrency: 8, deadAfter: '1s' },
      recovery: { every: '500ms' },
      migrationsRun: false,
      limits: FUZZ_LIMITS,
    },
  });
  // Warnings and errors to stdout: the driver reads the faulted passes from them (engine-log.ts).
  app.useLogger(new EngineLog(true));
  process.on('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
  process.send?.('ready');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});

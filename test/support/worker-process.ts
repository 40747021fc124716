import 'reflect-metadata';
import type { Provider } from '@nestjs/common';
import { bootApp, type TestAppOptions } from './app.js';

/**
 * The body of a worker process the tests spawn: boots `providers` on the schema and queue that
 * CF_TEST_SCHEMA and CF_TEST_QUEUE name, says "ready" (on stdout, and over IPC when there is a
 * channel) once it consumes jobs, and exits cleanly on SIGTERM. A failed boot exits with code 1.
 */
export function runWorkerProcess(
  providers: Provider[],
  options: (schema: string) => TestAppOptions['options'],
): void {
  const main = async (): Promise<void> => {
    const schema = process.env.CF_TEST_SCHEMA;
    const queueName = process.env.CF_TEST_QUEUE;
    if (!schema || !queueName) throw new Error('CF_TEST_SCHEMA and CF_TEST_QUEUE are required');
    const app = await bootApp({ schema, queueName, providers, options: options(schema) });
    process.on('SIGTERM', () => {
      void app.close().then(() => process.exit(0));
    });
    process.send?.('ready');
    process.stdout.write('ready\n');
  };
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}

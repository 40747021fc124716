import { DATABASE_URL } from '../support/env.js';
import { runWorkerProcess } from '../support/worker-process.js';
import { chaosProviders } from './chaos.fixture.js';
import { CHAOS_LIMITS, chaosLimitProviders } from './limits.fixture.js';

/**
 * A chaos worker process: CF_TEST_SCHEMA and CF_TEST_QUEUE select the suite's schema and queue,
 * CHAOS_WORKER_ID names it in the ledger. Sends "ready" over IPC once it consumes jobs; the driver
 * SIGKILLs it at random.
 */
runWorkerProcess([...chaosProviders, ...chaosLimitProviders], (schema) => ({
  database: { url: DATABASE_URL, schema, poolSize: 10 },
  worker: { concurrency: 8 },
  recovery: { every: '250ms' },
  limits: CHAOS_LIMITS,
}));

import { runWorkerProcess } from '../../support/worker-process.js';
import { HitsWorkflow } from './hits.fixture.js';

/** A worker process of the many-workers topology spec (CF_TEST_SCHEMA, CF_TEST_QUEUE). */
runWorkerProcess([HitsWorkflow], () => ({
  recovery: { every: '250ms' },
  worker: { concurrency: 4, deadAfter: '2s' },
}));

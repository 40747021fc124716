import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../../lib/index.js';
import { QUEUE_BACKEND, uniqueName } from '../support/env.js';
import { runBatch } from './batch.js';
import {
  BATCH,
  bootFuzzApp,
  type FuzzApp,
  fuzz,
  KILL_SHARE,
  MODE,
  PATH,
  RUNS,
  SEED,
} from './harness.js';

/**
 * The generative suite (`npm run test:fuzz`): model-based testing of the engine's core guarantees.
 *
 * Random workflow PROGRAMS (test/fuzz/program.ts: sequences of `@DurableStep`, `ctx.step` and
 * transactional steps, flaky steps, `Promise.all` of steps, typed and catch-all `try/catch` around
 * durable calls, broken steps fixed by `client.retry`, `ctx.sleep`, `waitForSignal` +
 * `client.signal`, `@Repeat`, a `@Branch` with spawn/spawnEach + `merge`, a step calling a step,
 * `ctx.state` set/get, transient errors in workflow code) are data, interpreted by ONE generic
 * workflow (fuzz.fixture.ts). Each program gets a random FAULT schedule: a cancel, a spurious
 * resume, signals at random times, one failed SQL statement injected at the database by a trigger
 * (db-faults.ts), a delayed fix + retry; each batch a skewed engine clock; in SIGKILL mode, worker
 * processes (dist/test/fuzz/fuzz-worker.main.js) are killed at random, each with its own skew.
 * Programs run concurrently in batches (one run key each). A REFERENCE MODEL (model.ts) says what
 * each run's result, durable state and ledger (the table every step body writes when it starts)
 * must be; invariants.ts lists the invariants checked after each batch settles.
 *
 * Knobs (environment):
 * - FUZZ_RUNS: programs per `npm run test:fuzz` (default 2000); FUZZ_KILL_SHARE: the share run in
 *   SIGKILL mode (default 0.1); FUZZ_BATCH / FUZZ_KILL_BATCH: max programs per batch (50 / 25).
 * - FUZZ_SEED, FUZZ_PATH: replay a failure (printed with it); FUZZ_MODE=inproc|kill: one mode only.
 * - FUZZ_SHAPES: shapes and faults on top of the default (comma list, `all`, or `none`; see
 *   workers.ts `shapeSwitches`): some hit known issue-15 items and are off by default.
 * - FUZZ_SKEW_MS: largest clock skew (default 2000); FUZZ_SHRINK_SECONDS: shrinking budget (120).
 * - FUZZ_DRAIN_SECONDS: how long runs may take to settle after the last fault (default 30).
 */

describe.skipIf(MODE === 'kill')(`fuzz, in-process worker (${QUEUE_BACKEND} queue)`, () => {
  const schema = uniqueName('cf_fuzz');
  const queueName = uniqueName('q_fuzz');
  const clock = new TestClock();
  let fuzzApp: FuzzApp | undefined;

  beforeAll(async () => {
    fuzzApp = await bootFuzzApp(schema, queueName, true, clock);
  });
  afterAll(async () => fuzzApp?.close());

  it('every generated program ends as the reference model says', async () => {
    const total = Math.ceil(RUNS * (1 - KILL_SHARE));
    const ran = await fuzz('inproc', total, BATCH, async (b) => {
      clock.set(Date.now() + b.skewMs);
      return runBatch(fuzzApp!.env(), b.programs);
    });
    console.log(`FUZZ inproc: ${ran} programs passed`);
    expect(ran).toBeGreaterThanOrEqual(PATH || SEED !== undefined ? 1 : total);
  });
});

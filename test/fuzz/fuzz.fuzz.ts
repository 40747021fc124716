import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../../lib/index.js';
import { QUEUE_BACKEND, uniqueName } from '../support/env.js';
import { runBatch } from './batch.js';
import { groupStats } from './group-stats.js';
import { shapeSwitches } from './workers.js';
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
  IN_PLACE,
  inPlaceStats,
  txChainStats,
} from './harness.js';

/**
 * The generative suite (`npm run test:fuzz`): model-based testing of the engine's core guarantees.
 *
 * Random workflow PROGRAMS (program.ts; shapes in generators.ts and shapes.ts: sequences of `@DurableStep`, `ctx.step` and transactional
 * steps, flaky and slow steps, loops of steps (optionally each iteration in a catch-all),
 * `Promise.all` of steps, typed and catch-all `try/catch` around durable calls, broken steps the
 * driver fixes and `client.retry`s, `ctx.sleep`, `waitForSignal` + `client.signal`, `@Repeat`, a
 * `@Branch` with spawn/spawnEach + `merge`, a step calling a step, `ctx.state` set/get, transient
 * errors in workflow code, a sleep whose wake-up pass misses it once — put back after the acquire
 * completed it; `fuzz.lease` programs whose passes outlive a 250 ms lease and are taken over
 * while they run; takeover programs whose stale pass and its successor checkpoint the same steps
 * at the same moment; burst programs and batches whose runs checkpoint, wake and complete at the
 * same moments, so group commit writes several runs — and two passes of one run — in one statement)
 * are data, interpreted by ONE generic workflow (fuzz.fixture.ts). Each
 * program gets a random FAULT schedule: a cancel, a spurious resume, signals at random times, one
 * failed SQL statement injected AT THE DATABASE by a trigger (db-faults.ts: the nth statement of a
 * kind — lock, unlock, run update, log insert/update, signal — touching that run raises), a delayed
 * fix + retry; each batch runs with a skewed engine clock. kill.fuzz.ts runs a share of the
 * programs on child worker processes (dist/test/fuzz/fuzz-worker.main.js, each with its own skew)
 * SIGKILLed at random. Programs run concurrently in batches, one run key each, in one booted app.
 *
 * A REFERENCE MODEL (model.ts) says what each run's result, durable state and ledger (fuzz_ledger:
 * one row per step body execution, written when the body starts, with the lock holder and run
 * state read in the same statement) must be. invariants.ts checks, per batch: each run reaches
 * the model's state (completed; cancelled iff the cancel succeeded; nothing left stuck once the
 * faults stop), with the model's result and state; each body ran exactly as often as the model
 * says (more only in a run a fault struck: a failed statement or a killed worker; no body twice
 * otherwise), transactional bodies exactly once; bodies run under their pass's lock (after a cancel
 * or a takeover at most the one racing body per pass, so never a loop of bodies after a cancel),
 * never after their own checkpoint, passes never overlap, and every completed step has its body;
 * a transactional step's business row is committed iff its step log is completed (cancels,
 * takeovers, faults at any statement, COMMIT included: commit-invariants.ts), and a completed run's
 * sleeps are all completed; a pass answered a checkpoint's log id wrote that log, and a stale pass
 * whose successor's checkpoint of a step landed starts no body after its own was answered
 * (checkpoint-answers.ts). The group-commit statements, sleeps completed by acquires and put back
 * are counted (group-stats.ts) and printed at the end.
 *
 * A failure prints the seed and path that replay it, the fault statistics, and each failing run
 * with the invariants it broke and its program as the TypeScript a user would write (shrunk by
 * fast-check within FUZZ_SHRINK_SECONDS).
 *
 * Knobs (environment):
 * - FUZZ_RUNS: programs per run (default 2000); FUZZ_KILL_SHARE: the share run in SIGKILL mode
 *   (default 0.05); FUZZ_BATCH / FUZZ_KILL_BATCH: max programs per batch (100 / 25).
 * - FUZZ_SEED, FUZZ_PATH: replay a failure with the whole command it printed (FUZZ_MODE, CF_QUEUE,
 *   FUZZ_BATCH or FUZZ_KILL_BATCH, FUZZ_SKEW_MS, FUZZ_SHAPES: they shape what a seed and path
 *   generate; a path walked with other values leads to another batch or to none, which is
 *   reported). A replay prints the batch's programs, runs exactly that batch — no shrinking, no
 *   further batches (fast-check would go on with the path's shrink siblings, each a full batch:
 *   that is what kept replays silent for 20+ minutes) — and reports within about a minute; its
 *   faults are timing-dependent, so it may pass, and says so.
 * - FUZZ_SHAPES: comma list of shapes, `all`, or `none` (drops the default ones). All on
 *   by default: `limits` (issue 17: steps under a per-key semaphore / rate limit and `ctx.once`,
 *   checked from the bodies' start/end rows by limit-invariants.ts), `sql`, `catchAll`, `parallelFlaky` (item 1), `cancel` (item 2), `sqlUnlock` (item
 *   5), `stateInStep` (item 18), `protoKeys` (item 20), `saga` (issue 18: half the programs run as
 *   `fuzz.saga`, compensated steps rolled back on a stall or a cancel; see saga-invariants.ts),
 *   `lease` (`fuzz.lease` programs and batches: passes taken over while they run), `takeover`
 *   (programs, in mixed batches, whose stale pass's checkpoints go beside its successor's),
 *   `sqlInCatchAll` (a failed engine statement
 *   must not reach user code), `retryShift` (broken steps the workflow catches, then a retry: the
 *   caught failure stays history — `client.retry` re-runs only the step that stalled the run).
 * - FUZZ_SKEW_MS: largest clock skew (default 2000; the engine tolerates 5 s), FUZZ_SHRINK_SECONDS
 *   (default 120), FUZZ_DRAIN_SECONDS: how long runs may take to settle after the last driver
 *   action (default 30), FUZZ_KEEP=1: keep the schema. CF_QUEUE=postgres: BullMQ's PostgreSQL queue.
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
    console.log(
      `FUZZ inproc: ${ran} programs passed (${fuzzApp!.log.logged} engine warnings/errors; ` +
        `start in place ${IN_PLACE ? `on: ${inPlaceStats.passes} first passes` : 'off'}; ` +
        `${txChainStats.prestartedSteps} transactional steps begun by their predecessor's COMMIT)`,
    );
    expect(ran).toBeGreaterThanOrEqual(PATH || SEED !== undefined ? 1 : total);
    // The shapes that exist to make the engine batch (shapes.ts) do: a few hundred programs give
    // dozens of multi-row checkpoints and acquires, and sleeps completed by acquires.
    if (!PATH && SEED === undefined && ran >= 300) {
      expect(groupStats.checkpoints.statements, 'multi-row checkpoints').toBeGreaterThan(0);
      expect(groupStats.acquires.statements, 'multi-row acquires').toBeGreaterThan(0);
      expect(groupStats.wokenAtAcquire, 'sleeps completed by an acquire').toBeGreaterThan(0);
      if (shapeSwitches().takeover)
        expect(
          groupStats.oneStepTwice.landed,
          "a stale pass's checkpoint beside its successor's landed one, in one statement",
        ).toBeGreaterThan(0);
      if (IN_PLACE) expect(inPlaceStats.passes, 'first passes run in place').toBeGreaterThan(0);
      expect(txChainStats.prestartedSteps, 'chained transactional steps').toBeGreaterThan(0);
    }
  });
});

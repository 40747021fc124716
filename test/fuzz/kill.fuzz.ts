import { afterAll, beforeAll, describe, it } from 'vitest';
import { QUEUE_BACKEND, uniqueName } from '../support/env.js';
import { runBatch } from './batch.js';
import {
  bootFuzzApp,
  type FuzzApp,
  fuzz,
  KILL_BATCH,
  KILL_SHARE,
  MODE,
  RUNS,
  SKEW_MS,
} from './harness.js';
import { workerPool } from './workers.js';

/**
 * A merge poller (or a parent's wake-up) lost with a SIGKILLed worker is noticed by the parent's
 * merge safety wake about 60 s later (see BranchRunner.merge and the chaos suite): the drain here
 * covers it unless FUZZ_DRAIN_SECONDS says otherwise.
 */
const KILL_DRAIN_MS = Number(process.env.FUZZ_DRAIN_SECONDS ?? 75) * 1000;

/**
 * The SIGKILL share of the fuzz suite (see fuzz.fuzz.ts): the same programs and faults, run by three
 * worker processes (dist/test/fuzz/fuzz-worker.main.js, each with its own clock skew) that are
 * SIGKILLed at random while the batch's driver actions happen, and replaced. The driver here only
 * starts runs and acts on them. A body may run again only in a run a killed worker touched.
 */
describe.skipIf(MODE === 'inproc' || KILL_SHARE <= 0)(
  `fuzz, SIGKILLed worker processes (${QUEUE_BACKEND} queue)`,
  () => {
    const schema = uniqueName('cf_fuzzk');
    const queueName = uniqueName('q_fuzzk');
    let fuzzApp: FuzzApp | undefined;
    // Made when the suite runs (it needs the compiled worker): collecting this file must not fail
    // an in-process replay (FUZZ_MODE=inproc) that runs no worker process.
    let pool!: ReturnType<typeof workerPool>;

    beforeAll(async () => {
      pool = workerPool(schema, queueName, 3, SKEW_MS);
      fuzzApp = await bootFuzzApp(schema, queueName, false);
    });
    afterAll(async () => {
      await pool?.close();
      await fuzzApp?.close();
    });

    it('every generated program ends as the reference model says', async () => {
      const total = Math.max(1, Math.ceil(RUNS * KILL_SHARE));
      const ran = await fuzz('kill', total, KILL_BATCH, async (b) => {
        await pool.ensure();
        const reports = await runBatch(
          {
            ...fuzzApp!.env(),
            drainMs: KILL_DRAIN_MS,
            chaos: pool.chaos,
            killedPids: pool.killed,
            engineFaults: () => [...fuzzApp!.log.faults(), ...pool.faults()],
          },
          b.programs,
        );
        return reports.length ? [...reports, `worker logs:\n${pool.logs()}`] : reports;
      });
      console.log(`FUZZ kill: ${ran} programs passed, ${pool.killed().size} workers killed`);
    });
  },
);

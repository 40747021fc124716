import { TxChains } from '../../lib/database/tx-connection.js';
import type { INestApplicationContext } from '@nestjs/common';
import fc from 'fast-check';
import pg from 'pg';
import { type TestClock, WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, QUEUE_BACKEND } from '../support/env.js';
import { type BatchEnv, fuzzStats } from './batch.js';
import { faultDdl } from './db-faults.js';
import { EngineLog } from './engine-log.js';
import { fuzzProviders } from './fuzz.fixture.js';
import { answerStats, recordCheckpointAnswers } from './checkpoint-answers.js';
import { countGroupCommits, groupStats } from './group-stats.js';
import { WorkflowExecutor } from '../../lib/executor/workflow.executor.js';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { FuzzLedger } from './ledger.js';
import { batchArb } from './shapes.js';
import { printProgram } from './print.js';
import { FUZZ_LIMITS, type Program } from './program.js';
import { shapeSwitches } from './workers.js';

export const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
export const KILL_SHARE = Number(process.env.FUZZ_KILL_SHARE ?? 0.05);
export const BATCH = Number(process.env.FUZZ_BATCH ?? 100);
export const KILL_BATCH = Number(process.env.FUZZ_KILL_BATCH ?? 25);
export const SKEW_MS = Number(process.env.FUZZ_SKEW_MS ?? 2000);
const SHRINK_MS = Number(process.env.FUZZ_SHRINK_SECONDS ?? 120) * 1000;
const DRAIN_MS = Number(process.env.FUZZ_DRAIN_SECONDS ?? 30) * 1000;
export const MODE = process.env.FUZZ_MODE;
export const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
export const PATH = process.env.FUZZ_PATH;
/**
 * FUZZ_IN_PLACE=1|0: the in-process worker runs plain starts in place (`worker.startInPlace`);
 * unset, each suite run draws it (printed, and part of the replay command).
 */
export const IN_PLACE =
  process.env.FUZZ_IN_PLACE === undefined ? Math.random() < 0.5 : process.env.FUZZ_IN_PLACE === '1';

export interface Batch {
  programs: Program[];
  skewMs: number;
}

/**
 * Runs batches until `total` programs ran, each fast-check round with its own seed. A failure
 * stops, shrinks (within FUZZ_SHRINK_SECONDS) and throws the reports of the smallest failing batch
 * with the seed and path that replay it.
 *
 * A replay (FUZZ_SEED + FUZZ_PATH) runs the one batch at that path and stops: no shrinking, and no
 * further values. (fast-check ignores `numRuns` for a path with `:` — a shrunk counterexample — and
 * goes on with the path's next shrink siblings, each a full batch; a replay whose timing-dependent
 * failure did not recur used to run batch after batch for half an hour, printing nothing.)
 */
export async function fuzz(
  label: string,
  total: number,
  batchSize: number,
  run: (b: Batch) => Promise<string[]>,
): Promise<number> {
  if (PATH !== undefined && (SEED === undefined || !/^\d+(:\d+)*$/.test(PATH)))
    throw new Error(
      `FUZZ_PATH=${PATH} needs the FUZZ_SEED printed with it, and looks like 12:0:3 (digits and colons)`,
    );
  const replay = PATH !== undefined;
  const arb = fc.record({
    programs: batchArb(shapeSwitches(), batchSize),
    skewMs: fc.integer({ min: -SKEW_MS, max: SKEW_MS }),
  });
  let ran = 0;
  for (let round = 0; ran < total; round++) {
    let failure: string[] | undefined;
    let shrinkUntil = Infinity;
    let batches = 0;
    const seed = SEED ?? (Date.now() ^ (round * 7919)) | 0;
    const property = fc.asyncProperty(arb, async (b) => {
      // Stop at once (an interrupt keeps the failure found so far): a replay runs one batch, and
      // a spent shrinking budget ends the shrink rather than walk the remaining candidates.
      if ((replay && batches > 0) || Date.now() > shrinkUntil)
        throw new fc.PreconditionFailure(true);
      batches++;
      ran += b.programs.length;
      if (replay) console.log(replayHeader(label, b));
      let reports: string[];
      try {
        reports = await run(b);
      } catch (err) {
        // A batch that throws fails too: report why (not the previous failure's reports).
        reports = [`the batch threw: ${(err as Error).stack ?? String(err)}`];
      }
      if (reports.length === 0) return true;
      failure = reports;
      shrinkUntil = Math.min(shrinkUntil, Date.now() + SHRINK_MS);
      return false;
    });
    const remaining = Math.max(1, Math.ceil((2 * (total - ran)) / batchSize));
    const out = await fc.check(property, {
      seed,
      ...(replay ? { path: PATH } : {}),
      numRuns: replay ? 1 : remaining,
      endOnFailure: replay || SHRINK_MS <= 0,
    });
    console.log(
      `FUZZ ${label} round ${round}: seed ${out.seed}, ${batches} batches, ${ran} programs so far, ${out.failed ? 'FAILED' : 'passed'}`,
    );
    if (out.failed) {
      const b = out.counterexample?.[0] as Batch | undefined;
      throw new Error(
        `FUZZ ${label} FAILED — replay with ${replayCommand(label, batchSize, out.seed, out.counterexamplePath)}` +
          ` (${b?.programs.length ?? '?'} programs, clock skew ${b?.skewMs ?? '?'} ms, after ${out.numShrinks} shrinks)\n` +
          `stats so far: ${JSON.stringify(fuzzStats)}\n` +
          (failure ?? [String(out.errorInstance)]).join('\n\n'),
      );
    }
    if (replay && batches === 0)
      throw new Error(
        `FUZZ ${label}: seed ${SEED} path ${PATH} leads to no batch. A path is only valid with the ` +
          `knobs that generated it: run the whole command the failure printed (${batchVar(label)}, ` +
          `FUZZ_SKEW_MS and FUZZ_SHAPES included), on the same version of test/fuzz/.`,
      );
    if (replay)
      console.log(
        `FUZZ ${label} replay of seed ${SEED} path ${PATH}: the batch passed this time (its failure depends on timing; replay again, or FUZZ_RUNS=… FUZZ_SEED=${SEED} to search anew)`,
      );
    if (replay || SEED !== undefined) break;
  }
  console.log(`FUZZ ${label} done: ${JSON.stringify(fuzzStats)}`);
  console.log(`FUZZ ${label} group commit: ${JSON.stringify(groupStats)}`);
  console.log(
    `FUZZ ${label} checkpoints of one step by two passes: ${JSON.stringify(answerStats)}`,
  );
  return ran;
}

const batchVar = (label: string) => (label === 'kill' ? 'FUZZ_KILL_BATCH' : 'FUZZ_BATCH');

/**
 * The command that replays one batch. Every knob that shapes what is generated is part of it: the
 * batch size (the arbitrary's `maxLength`), the skew range and the shapes — a path walked with
 * other values leads to another batch, or to none.
 */
export function replayCommand(label: string, batchSize: number, seed: number, path: string | null) {
  const shapes = process.env.FUZZ_SHAPES ? ` FUZZ_SHAPES=${process.env.FUZZ_SHAPES}` : '';
  return (
    `CF_QUEUE=${QUEUE_BACKEND} FUZZ_MODE=${label} FUZZ_SEED=${seed} FUZZ_PATH=${path ?? ''} ` +
    `${batchVar(label)}=${batchSize} FUZZ_SKEW_MS=${SKEW_MS} FUZZ_IN_PLACE=${IN_PLACE ? 1 : 0}${shapes} ` +
    'npx vitest run --config vitest.fuzz.config.ts'
  );
}

/** What a replay prints before it runs its batch: the programs at the path. */
function replayHeader(label: string, b: Batch): string {
  const programs = b.programs.map((p, i) => `program ${i}:\n${printProgram(p)}`);
  return `FUZZ ${label} replaying seed ${SEED} path ${PATH}: ${b.programs.length} programs, clock skew ${b.skewMs} ms\n${programs.join('\n')}`;
}

/** First passes the in-process worker ran in place (`IN_PLACE`). */
export const inPlaceStats = { passes: 0 };

/** Transactional steps begun on a transaction their pass's previous COMMIT began (TxChains). */
export const txChainStats = { prestartedSteps: 0 };
const take = TxChains.prototype.take;
TxChains.prototype.take = function (this: TxChains, ...args: Parameters<TxChains['take']>) {
  const conn = take.apply(this, args);
  if (conn) txChainStats.prestartedSteps++;
  return conn;
};

function countInPlacePasses(executor: WorkflowExecutor): void {
  const runPass = executor.runPass.bind(executor);
  executor.runPass = (id: string, jobId: string) => {
    if (jobId.startsWith('inplace-')) inPlaceStats.passes++;
    return runPass(id, jobId);
  };
}

/** A booted fuzz app (client, and a worker unless `worker: false`) over its own schema and queue. */
export interface FuzzApp {
  app: INestApplicationContext;
  log: EngineLog;
  db: pg.Pool;
  env(): BatchEnv;
  close(): Promise<void>;
}

export async function bootFuzzApp(
  schema: string,
  queueName: string,
  worker: boolean,
  clock?: TestClock,
): Promise<FuzzApp> {
  process.env.CF_TEST_SCHEMA = schema;
  const app = await bootApp({
    schema,
    queueName,
    providers: fuzzProviders,
    ...(clock ? { clock } : {}),
    options: {
      database: { url: DATABASE_URL, schema, poolSize: 10 },
      worker: worker ? { concurrency: 16, startInPlace: IN_PLACE } : false,
      recovery: { every: '500ms' },
      limits: FUZZ_LIMITS,
    },
  });
  const log = new EngineLog();
  app.useLogger(log);
  countGroupCommits(app.get(WorkflowStore));
  recordCheckpointAnswers(app.get(WorkflowStore));
  countInPlacePasses(app.get(WorkflowExecutor));
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  for (const q of [...FuzzLedger.ddl(schema), ...faultDdl(schema)]) await db.query(q);
  return {
    app,
    log,
    db,
    env: () => ({
      client: app.get(WorkflowClient),
      db,
      schema,
      drainMs: DRAIN_MS,
      killedPids: () => new Set(),
      engineLog: (id, sinceMs) => log.about(id, sinceMs),
      engineFaults: () => log.faults(),
    }),
    async close() {
      await app.close();
      await db.end();
      if (!process.env.FUZZ_KEEP) await cleanup(schema, queueName);
      else console.log(`FUZZ_KEEP: schema ${schema} kept`);
    },
  };
}

import type { INestApplicationContext } from '@nestjs/common';
import fc from 'fast-check';
import pg from 'pg';
import { type TestClock, WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL } from '../support/env.js';
import { type BatchEnv, fuzzStats } from './batch.js';
import { faultDdl } from './db-faults.js';
import { EngineLog } from './engine-log.js';
import { FuzzLedger, fuzzProviders } from './fuzz.fixture.js';
import { programArb } from './generators.js';
import type { Program } from './program.js';
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

export interface Batch {
  programs: Program[];
  skewMs: number;
}

/**
 * Runs batches until `total` programs ran, each fast-check round with its own seed. A failure
 * stops, shrinks (within FUZZ_SHRINK_SECONDS) and throws the reports of the smallest failing batch
 * with the seed and path that replay it.
 */
export async function fuzz(
  label: string,
  total: number,
  batchSize: number,
  run: (b: Batch) => Promise<string[]>,
): Promise<number> {
  const arb = fc.record({
    programs: fc.array(programArb(shapeSwitches()), {
      minLength: 1,
      maxLength: batchSize,
      size: 'max',
    }),
    skewMs: fc.integer({ min: -SKEW_MS, max: SKEW_MS }),
  });
  let ran = 0;
  for (let round = 0; ran < total; round++) {
    let failure: string[] | undefined;
    let shrinkUntil = Infinity;
    const seed = SEED ?? (Date.now() ^ (round * 7919)) | 0;
    const property = fc.asyncProperty(arb, async (b) => {
      if (Date.now() > shrinkUntil) return true; // shrinking budget spent: keep the last failure
      ran += b.programs.length;
      const reports = await run(b);
      if (reports.length === 0) return true;
      failure = reports;
      shrinkUntil = Math.min(shrinkUntil, Date.now() + SHRINK_MS);
      return false;
    });
    const remaining = Math.max(1, Math.ceil((2 * (total - ran)) / batchSize));
    const out = await fc.check(property, {
      seed,
      ...(PATH ? { path: PATH } : {}),
      numRuns: PATH ? 1 : remaining,
      endOnFailure: SHRINK_MS <= 0,
    });
    console.log(
      `FUZZ ${label} round ${round}: seed ${out.seed}, ${out.numRuns} batches, ${ran} programs so far, ${out.failed ? 'FAILED' : 'passed'}`,
    );
    if (out.failed) {
      const b = out.counterexample?.[0] as Batch | undefined;
      throw new Error(
        `FUZZ ${label} FAILED — replay with FUZZ_MODE=${label} FUZZ_SEED=${out.seed} FUZZ_PATH=${out.counterexamplePath}` +
          ` (${b?.programs.length ?? '?'} programs, clock skew ${b?.skewMs ?? '?'} ms, after ${out.numShrinks} shrinks)\n` +
          `stats so far: ${JSON.stringify(fuzzStats)}\n` +
          (failure ?? [String(out.errorInstance)]).join('\n\n'),
      );
    }
    if (PATH || SEED !== undefined) break;
  }
  console.log(`FUZZ ${label} done: ${JSON.stringify(fuzzStats)}`);
  return ran;
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
      worker: worker ? { concurrency: 16 } : false,
      recovery: { every: '500ms' },
    },
  });
  const log = new EngineLog();
  app.useLogger(log);
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

import type pg from 'pg';
import { InvalidTransitionError, type WorkflowClient } from '../../lib/index.js';
import { armFaultSql } from './db-faults.js';
import type { LoggedFault } from './engine-log.js';
import type { ProgramInput } from './fuzz.fixture.js';
import { checkBatch } from './invariants.js';
import { type Expectation, expectationOf } from './model.js';
import type { Program } from './program.js';

/** What a batch runs against: the driver's client and pool, and the SIGKILL chaos in that mode. */
export interface BatchEnv {
  client: WorkflowClient;
  db: pg.Pool;
  schema: string;
  /** How long runs may take to settle once the last driver action is done. */
  drainMs: number;
  /** SIGKILL mode: kills workers while `busy()` holds. */
  chaos?: (busy: () => boolean) => Promise<void>;
  /** Pids of worker processes killed so far (their passes crashed). */
  killedPids: () => Set<number>;
  /** In-process mode: what the engine logged about run `id` (warnings, errors) since `sinceMs`. */
  engineLog?: (id: string, sinceMs: number) => string[];
  /** The passes the engines (in process and in worker processes) logged as faulted so far. */
  engineFaults?: () => LoggedFault[];
}

/** One program of a batch, as run. */
export interface Case {
  key: string;
  id: string;
  program: Program;
  model: Expectation;
  /** `ok`: the cancel succeeded; `refused`: the run was terminal already. */
  cancel: 'ok' | 'refused' | null;
  fixed: boolean;
  /** Driver actions that failed unexpectedly. */
  actionErrors: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'compensated']);
let batchSeq = 0;

/** What the batches did so far (printed at the end of a fuzz run, so a green run shows its faults). */
export const fuzzStats = {
  programs: 0,
  cancelled: 0,
  cancelRefused: 0,
  retried: 0,
  resumed: 0,
  signals: 0,
  sqlArmed: 0,
  sqlFired: 0,
  killed: 0,
  /** Runs a fault struck that the suite did not inject (refused connections of a busy server). */
  infraFaulted: 0,
  /** Saga programs, and those that ended rolled back (`compensated`). */
  sagas: 0,
  compensated: 0,
  /** Limited step bodies (fuzz.conc, fuzz.rate) and once bodies the ledger measured. */
  limitBodies: 0,
  onceBodies: 0,
  /** `fuzz.lease` programs (passes taken over while running). */
  leases: 0,
  /** Bodies of lease programs run again by another pass (a takeover while the stale one ran). */
  leaseRerun: 0,
  /** Passes ended by an injected COMMIT-time fault (db-faults.ts `commit`), as the engine logged. */
  commitFaults: 0,
};

/** Retries a driver action while it fails on an injected fault (a user would retry too). */
async function persist<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i < 20 && /fuzz fault/.test(String((err as Error).message))) continue;
      throw err;
    }
  }
}

/**
 * Runs the programs concurrently (one run each), applies their fault schedules, waits until every
 * run settled (or the drain deadline passed), then checks every invariant. Returns the failure
 * reports (empty when the batch passed).
 */
export async function runBatch(env: BatchEnv, programs: Program[]): Promise<string[]> {
  const batch = ++batchSeq;
  const prefix = `b${process.pid}x${batch}p`;
  const cases: Case[] = await Promise.all(
    programs.map(async (program, i): Promise<Case> => {
      const key = `${prefix}${i}`;
      const input: ProgramInput = {
        root: key,
        body: program.body,
        saga: program.saga,
        scope: prefix,
      };
      const workflow = program.saga ? 'fuzz.saga' : program.lease ? 'fuzz.lease' : 'fuzz.program';
      const handle = await env.client.start(workflow, { key, input });
      const c: Case = {
        key,
        id: handle.id,
        program,
        model: expectationOf(program),
        cancel: null,
        fixed: false,
        actionErrors: [],
      };
      const sql = program.faults.sql;
      fuzzStats.programs++;
      if (program.saga) fuzzStats.sagas++;
      if (program.lease) fuzzStats.leases++;
      if (sql) fuzzStats.sqlArmed++;
      if (sql)
        for (const q of armFaultSql(env.schema, handle.id, sql.kind, sql.nth))
          await env.db.query(q);
      return c;
    }),
  );
  const t0 = Date.now();
  const actions: Array<Promise<void>> = [];
  const at = (ms: number, what: string, c: Case, fn: () => Promise<void>) =>
    actions.push(
      (async () => {
        await sleep(Math.max(0, t0 + ms - Date.now()));
        try {
          await persist(fn);
        } catch (err) {
          if (!(err instanceof InvalidTransitionError))
            c.actionErrors.push(`${what}: ${(err as Error).message}`);
        }
      })(),
    );
  for (const c of cases) {
    const f = c.program.faults;
    const visit = (body: Program['body']): void => {
      for (const s of body) {
        if (s.k === 'signal')
          at(s.sendAfterMs, `signal g_${s.id}`, c, async () => {
            await env.client.signal(c.key, `g_${s.id}`, `pay_${s.id}`);
            fuzzStats.signals++;
          });
        if (s.k === 'try') visit(s.body);
      }
    };
    visit(c.program.body);
    if (f.cancelAfterMs !== null)
      at(f.cancelAfterMs, 'cancel', c, async () => {
        c.cancel = 'refused';
        await env.client.cancel(c.key);
        c.cancel = 'ok';
        fuzzStats.cancelled++;
      });
    if (f.resumeAfterMs !== null)
      at(f.resumeAfterMs, 'resume', c, async () => {
        await env.client.resume(c.key);
        fuzzStats.resumed++;
      });
  }
  let dispatching = true;
  void Promise.all(actions).then(() => (dispatching = false));
  const chaos = env.chaos?.(() => dispatching);

  // Settle: fix and retry stalled runs whose broken step stalled them (as the model does).
  const stalledSince = new Map<string, number>();
  let deadline = Infinity;
  for (;;) {
    const rows = (
      await env.db.query<{ key: string; state: string }>(
        `SELECT key, state FROM "${env.schema}".chrono_forge_workflows WHERE starts_with(key, $1)`,
        [prefix],
      )
    ).rows;
    const state = new Map(rows.map((r) => [r.key, r.state]));
    for (const c of cases) {
      if (state.get(c.key) !== 'stalled' || c.fixed || !c.model.stalls) continue;
      const since = stalledSince.get(c.key) ?? Date.now();
      stalledSince.set(c.key, since);
      if (Date.now() - since < c.program.faults.retryAfterMs) continue;
      c.fixed = true;
      await env.db.query(
        `INSERT INTO "${env.schema}".fuzz_fixed (root) VALUES ($1) ON CONFLICT DO NOTHING`,
        [c.key],
      );
      at(Date.now() - t0, 'retry', c, async () => {
        await env.client.retry(c.key);
        fuzzStats.retried++;
      });
    }
    // A stall the model does not predict is final (and reported); a predicted one awaits the retry.
    const stalls = new Set(cases.filter((c) => c.model.stalls).map((c) => c.key));
    const settled = rows.every(
      (r) => TERMINAL.has(r.state) || (r.state === 'stalled' && !stalls.has(r.key)),
    );
    if (!dispatching && deadline === Infinity) deadline = Date.now() + env.drainMs;
    if ((!dispatching && settled) || Date.now() > deadline) break;
    await sleep(100);
  }
  await Promise.all(actions);
  await chaos;
  // Let a stale pass that keeps running after a cancel or a takeover show itself in the ledger.
  await sleep(300);
  return checkBatch(env, cases, prefix, t0);
}

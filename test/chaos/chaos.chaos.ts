import type { INestApplicationContext } from '@nestjs/common';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WorkflowHandle, WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';
import {
  CHAOS_CHILDREN,
  CHAOS_SIGNAL,
  ChaosLedger,
  type ChaosResult,
  chaosProviders,
} from './chaos.fixture.js';
import { chaosServices } from './services.js';
import { collectInvariants, healthAfterDrain, printChaosReport } from './invariants.js';
import { ChaosWorkerPool } from './worker-pool.js';

/**
 * The chaos suite: three worker processes run a few hundred workflows (steps, a retried step, a
 * sleep, a signal, a repeat, a branch with children and a merge) while the driver SIGKILLs workers,
 * restarts Redis twice (losing every queued job) and PostgreSQL once. Then it waits for the drain
 * and checks the engine's invariants from the ledger every step body writes.
 *
 * Knobs: CHAOS_RUNS (parent runs, default 200), CHAOS_SECONDS (length of the fault window),
 * CHAOS_DRAIN_SECONDS (how long the drain may take), CHAOS_WORKERS (worker processes, default 4), CHAOS_KEEP=1 (keep the schema to investigate),
 * CHAOS_VERBOSE=1 (print the timeline). Worker logs and the timeline (events.log) are written to
 * $TMPDIR/chronoforge-chaos/<schema>/ and kept when the run fails (or with CHAOS_KEEP).
 */

const RUNS = Number(process.env.CHAOS_RUNS ?? 200);
/** Worker processes on the one queue (CHAOS_WORKERS); 4 as in a small production deployment. */
const WORKERS = Math.max(1, Number(process.env.CHAOS_WORKERS ?? 4));
const CHAOS_MS = Number(process.env.CHAOS_SECONDS ?? (RUNS >= 150 ? 24 : 16)) * 1000;
const DRAIN_MS = Number(process.env.CHAOS_DRAIN_SECONDS ?? 120) * 1000;
/** Mean delay between two SIGKILLs. */
const KILL_EVERY_MS = 2_500;
/**
 * Faults happen in the first 75 % of the window (the last Redis restart at 65 %); the rest lets
 * replacement workers boot. A merge poller lost to a fault is only noticed by the parent's safety
 * timer about 60 s later (see BranchRunner.merge), which bounds the drain from below.
 */
const KILLS_UNTIL = 0.75;

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'dist/test/chaos/chaos-worker.main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (min: number, max: number) => min + Math.random() * (max - min);

interface Run {
  key: string;
  handle?: WorkflowHandle<ChaosResult>;
  startAt: number;
  signalAt: number;
  signalled: boolean;
}

describe('chaos: SIGKILLed workers, Redis and PostgreSQL restarts', () => {
  const schema = uniqueName('cf_chaos');
  const queueName = uniqueName('q_chaos');
  const logDir = join(tmpdir(), 'chronoforge-chaos', schema);
  const services = chaosServices(join(logDir, 'services'));
  let app: INestApplicationContext | undefined;
  let client: WorkflowClient;
  const stats = { kills: 0, redisRestarts: 0, pgRestarts: 0 };
  let passed = false;
  /** PostgreSQL restarts: [stopped at, back at] (ms since epoch; `to` unset while down). */
  const pgOutages: Array<[number, number | undefined]> = [];

  const events: string[] = [];
  let tEvents = Date.now();
  function event(what: string): void {
    events.push(`${String(Date.now() - tEvents).padStart(6)} ms  ${what}`);
  }

  const pool = new ChaosWorkerPool({
    script,
    cwd: root,
    logDir,
    env: { CF_TEST_SCHEMA: schema, CF_TEST_QUEUE: queueName },
    event,
    pgWasDown: (spawnedAt) =>
      pgOutages.some(([from, to]) => from <= Date.now() && (to ?? Infinity) >= spawnedAt),
  });

  beforeAll(async () => {
    if (!existsSync(script))
      throw new Error(
        `${script} is missing: run \`npx tsc -p tsconfig.json\` first (npm run test:chaos does).`,
      );
    mkdirSync(logDir, { recursive: true });
    await services.ensure();
    process.env.CF_TEST_SCHEMA = schema;
    // The driver only starts runs and sends signals; the work happens in the worker processes.
    app = await bootApp({
      schema,
      queueName,
      providers: chaosProviders,
      options: { worker: false },
    });
    client = app.get(WorkflowClient);
    await ChaosLedger.createTable(schema, (q) => sql(q));
  });

  afterAll(async () => {
    const keep = Boolean(process.env.CHAOS_KEEP);
    try {
      await pool.killAll();
      // Whatever happened, bring both services back (shared ones must stay up for whoever comes next).
      await services.ensure();
      await app?.close().catch(() => undefined);
      if (!keep) await cleanup(schema, queueName);
    } finally {
      if (keep) {
        console.log(
          `CHAOS_KEEP: schema ${schema} kept at ${process.env.DATABASE_URL ?? 'the default DATABASE_URL'}; ` +
            `${services.kind} services left running (files in ${join(logDir, 'services')})`,
        );
      } else {
        // Private services are stopped and removed; shared ones are (re)started.
        await services.release();
        // Worker logs and the timeline stay for a failed run only.
        if (passed) rmSync(logDir, { recursive: true, force: true });
        else console.log(`chaos: worker logs and timeline in ${logDir}`);
      }
    }
  });

  /** Retries an action through service outages. */
  async function persist<T>(what: string, fn: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`${what} kept failing: ${(err as Error).message}`);
        await sleep(200);
      }
    }
  }

  it(`should complete every run exactly-once-per-commit under chaos (${RUNS} runs)`, async () => {
    for (let i = 0; i < WORKERS; i++) pool.spawn();
    await Promise.all(pool.workers.map((w) => w.ready));

    const t0 = Date.now();
    tEvents = t0;
    event('chaos begins');
    const runs: Run[] = Array.from({ length: RUNS }, (_, i) => {
      // Starts spread over the first 60 % of the fault window; signals 0.2–3 s after the start.
      const startAt = t0 + Math.floor((i / RUNS) * CHAOS_MS * 0.6);
      return { key: `chaos-${i}`, startAt, signalAt: startAt + rand(200, 3_000), signalled: false };
    });

    let feeding = true;
    const feeder = (async () => {
      while (feeding) {
        const now = Date.now();
        const due = runs.filter(
          (r) => (!r.handle && r.startAt <= now) || (r.handle && !r.signalled && r.signalAt <= now),
        );
        await Promise.all(
          due.map(async (r) => {
            try {
              if (!r.handle) {
                r.handle = await client.start<ChaosResult>('chaos.parent', {
                  key: r.key,
                  input: { children: CHAOS_CHILDREN },
                });
              } else {
                await client.signal(r.key, CHAOS_SIGNAL, `go-${r.key}`);
                r.signalled = true;
              }
            } catch {
              // An outage: the next round retries (start is idempotent by key).
            }
          }),
        );
        if (runs.every((r) => r.handle && r.signalled)) return;
        await sleep(50);
      }
    })();

    // The fault schedule: kills until 75 %, Redis restarts at 15 % and 65 %, PostgreSQL at 40 %.
    const faults: Array<{ at: number; what: string; run: () => Promise<void> }> = [
      {
        at: 0.15,
        what: 'Redis restart',
        run: async () => (await services.restartRedis(800), void stats.redisRestarts++),
      },
      {
        at: 0.4,
        what: 'PostgreSQL restart',
        run: async () => {
          const outage: [number, number | undefined] = [Date.now(), undefined];
          pgOutages.push(outage);
          try {
            await services.restartPostgres(1_500);
            stats.pgRestarts++;
          } finally {
            // Workers that were booting meanwhile may still fail a moment after it is back.
            outage[1] = Date.now() + 5_000;
          }
        },
      },
      {
        at: 0.65,
        what: 'Redis restart',
        run: async () => (await services.restartRedis(800), void stats.redisRestarts++),
      },
    ];
    const faultLoop = (async () => {
      for (const fault of faults) {
        const wait = t0 + fault.at * CHAOS_MS - Date.now();
        if (wait > 0) await sleep(wait);
        event(`${fault.what}: begin`);
        await fault.run();
        event(`${fault.what}: end`);
      }
    })();
    const killLoop = (async () => {
      while (Date.now() - t0 < KILLS_UNTIL * CHAOS_MS) {
        await sleep(rand(0.5, 1.5) * KILL_EVERY_MS);
        if (Date.now() - t0 >= KILLS_UNTIL * CHAOS_MS) break;
        // SIGKILL a random worker that is up, keeping at least one other up so the runs move on.
        const ready = pool.ready();
        if (ready.length < 2) {
          event(`kill skipped: ${ready.length} worker(s) up`);
          continue;
        }
        const victim = ready[Math.floor(Math.random() * ready.length)];
        victim.killed = true;
        victim.proc.kill('SIGKILL');
        stats.kills++;
        event(`SIGKILL ${victim.id} (pid ${victim.proc.pid})`);
        pool.spawn();
      }
    })();
    await Promise.all([faultLoop, killLoop]);
    const chaosEnd = Date.now();
    event('chaos over');

    // Drain: every parent and every child completed.
    const expected = RUNS * (1 + CHAOS_CHILDREN);
    const drainDeadline = chaosEnd + DRAIN_MS;
    let completed = 0;
    for (;;) {
      const rows = await persist('drain poll', () =>
        sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}".chrono_forge_workflows WHERE state = 'completed'`,
        ),
      );
      completed = rows[0].n;
      if (completed >= expected || Date.now() > drainDeadline) break;
      await sleep(250);
    }
    feeding = false;
    await feeder;
    const drainMs = Date.now() - chaosEnd;
    event(`drained: ${completed}/${expected} runs completed`);
    writeFileSync(join(logDir, 'events.log'), `${events.join('\n')}\n`);
    if (process.env.CHAOS_VERBOSE) console.log(events.join('\n'));

    const inv = await collectInvariants(schema, runs, RUNS);
    const { lost, duplicates, afterCommit, notExactlyOnce, missingBodies, orphanBodies } = inv;
    const { distinctBodies, expectedBodies, notHolder, overlapping, stranded, open } = inv;
    printChaosReport(inv, {
      header:
        `CHAOS runs=${RUNS} (+${inv.childCount} children) workers=${WORKERS} kills=${stats.kills} ` +
        `redis_restarts=${stats.redisRestarts} pg_restarts=${stats.pgRestarts}`,
      footer: `worker_boot_failures=${pool.bootFailures} unexpected_worker_exits=${pool.unexpectedExits.length} drain_ms=${drainMs}`,
      logDir,
      events,
      unexpectedExits: pool.unexpectedExits,
    });

    expect(lost, 'lost runs').toEqual([]);
    expect(duplicates, 'duplicate completed logs').toEqual([]);
    expect(inv.badCalls, 'ctx.call: one child per call, ended before its parent').toEqual([]);
    expect(afterCommit, 'bodies re-run after their log committed').toEqual([]);
    expect(notExactlyOnce, 'transactional steps not exactly once').toEqual([]);
    expect(missingBodies, 'completed steps whose body never ran').toEqual([]);
    expect(orphanBodies, 'bodies whose step never completed').toEqual([]);
    expect(distinctBodies).toBe(expectedBodies);
    expect(notHolder, 'bodies run without holding the lock').toEqual([]);
    expect(overlapping, 'overlapping passes').toEqual([]);
    expect(stranded, 'stranded runs').toEqual([]);
    expect(open, 'non-terminal runs').toEqual([]);
    const health = await healthAfterDrain(app);
    expect(health.status, `health after the drain: ${JSON.stringify(health.checks)}`).toBe('up');
    expect(pool.unexpectedExits, 'workers that died by themselves').toEqual([]);
    expect(stats).toMatchObject({ redisRestarts: 2, pgRestarts: 1 });
    expect(stats.kills).toBeGreaterThan(0);
    passed = true;
  });
});

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
import {
  assertChaosInvariants,
  collectInvariants,
  healthAfterDrain,
  printChaosReport,
} from './invariants.js';
import { collectLimitInvariants, planLimitedRuns, startDueLimited } from './limit-invariants.js';
import { chaosLimitProviders, ChaosLimitLedger, LIMITED_BODIES } from './limits.fixture.js';
import { ChaosWorkerPool } from './worker-pool.js';
import { newFaultLog, runFaults } from './faults.js';

/**
 * The chaos suite: three worker processes run a few hundred workflows (steps, a retried step, a
 * sleep, a signal, a repeat, a branch with children and a merge) and limited runs (a per-key
 * semaphore and a per-key rate: limits.fixture.ts) while the driver SIGKILLs workers,
 * restarts Redis twice (losing every queued job) and PostgreSQL once. Then it waits for the drain
 * and checks the engine's invariants from the ledger every step body writes.
 *
 * Knobs: CHAOS_RUNS (parent runs, default 200), CHAOS_SECONDS (length of the fault window),
 * CHAOS_DRAIN_SECONDS (how long the drain may take), CHAOS_WORKERS (worker processes, default 4), CHAOS_KEEP=1 (keep the schema to investigate),
 * CHAOS_VERBOSE=1 (print the timeline). Worker logs and the timeline (events.log) are written to
 * $TMPDIR/chronoforge-chaos/<schema>/ and kept when the run fails (or with CHAOS_KEEP).
 */

const RUNS = Number(process.env.CHAOS_RUNS ?? 200);
/** `chaos.limited` runs (one per 2 parents, at least 24) and the chaos workers' liveness rule. */
const LIMITED = Math.max(24, Math.ceil(RUNS / 2));
const DEAD_AFTER_MS = 30_000;
const SWEEP_MS = 250;
/** Worker processes on the one queue (CHAOS_WORKERS); 4 as in a small production deployment. */
const WORKERS = Math.max(1, Number(process.env.CHAOS_WORKERS ?? 4));
const CHAOS_MS = Number(process.env.CHAOS_SECONDS ?? (RUNS >= 150 ? 24 : 16)) * 1000;
const DRAIN_MS = Number(process.env.CHAOS_DRAIN_SECONDS ?? 120) * 1000;

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
  const faultLog = newFaultLog();
  const { stats, pgOutages, redisOutages, kills } = faultLog;
  let passed = false;

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
      providers: [...chaosProviders, ...chaosLimitProviders],
      options: { worker: false },
    });
    client = app.get(WorkflowClient);
    await ChaosLedger.createTable(schema, (q) => sql(q));
    await ChaosLimitLedger.createTable(schema, (q) => sql(q));
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
    const limited = planLimitedRuns(LIMITED, t0, CHAOS_MS * 0.6);

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
        await startDueLimited(client, limited);
        if (runs.every((r) => r.handle && r.signalled) && limited.every((r) => r.handle)) return;
        await sleep(50);
      }
    })();

    await runFaults({ t0, chaosMs: CHAOS_MS, services, pool, event, log: faultLog });
    const chaosEnd = Date.now();
    event('chaos over');

    // Drain: every parent, its spawned children and its called child, and every limited run completed.
    const expected = RUNS * (2 + CHAOS_CHILDREN) + LIMITED;
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

    const inv = await collectInvariants(schema, runs, RUNS, LIMITED * LIMITED_BODIES);
    const lim = await collectLimitInvariants(schema, limited, {
      kills,
      outages: [...pgOutages, ...redisOutages],
      deadAfterMs: DEAD_AFTER_MS,
      sweepMs: SWEEP_MS,
      slackMs: 3_000,
    });
    console.log(
      `CHAOS limits: ${LIMITED} limited runs, peak bodies per key ${JSON.stringify(lim.concPeaks)}, ` +
        `slots of killed workers reused after ${JSON.stringify(lim.freedAfterMs)} ms (${lim.outageExtended} bounds extended by an outage)`,
    );
    printChaosReport(inv, {
      header:
        `CHAOS runs=${RUNS} (+${inv.childCount} children) workers=${WORKERS} kills=${stats.kills} ` +
        `redis_restarts=${stats.redisRestarts} pg_restarts=${stats.pgRestarts}`,
      footer: `worker_boot_failures=${pool.bootFailures} unexpected_worker_exits=${pool.unexpectedExits.length} drain_ms=${drainMs}`,
      logDir,
      events,
      unexpectedExits: pool.unexpectedExits,
    });

    assertChaosInvariants(inv);
    expect(lim.lostLimited, 'lost limited runs').toEqual([]);
    expect(lim.concViolations, 'per-key concurrency exceeded').toEqual([]);
    expect(lim.rateViolations, 'rate windows exceeded').toEqual([]);
    expect(lim.freeViolations, 'slots of killed workers freed late').toEqual([]);
    const health = await healthAfterDrain(app);
    expect(health.status, `health after the drain: ${JSON.stringify(health.checks)}`).toBe('up');
    expect(pool.unexpectedExits, 'workers that died by themselves').toEqual([]);
    expect(stats).toMatchObject({ redisRestarts: 2, pgRestarts: 1 });
    expect(stats.kills).toBeGreaterThan(0);
    passed = true;
  });
});

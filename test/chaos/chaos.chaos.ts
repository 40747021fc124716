import type { INestApplicationContext } from '@nestjs/common';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WorkflowHandle, WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';
import {
  CHAOS_CHILDREN,
  CHAOS_SIGNAL,
  CHAOS_TICKS,
  ChaosLedger,
  type ChaosResult,
  chaosProviders,
  MARKER_PREFIX,
  TRANSACTIONAL_STEP,
} from './chaos.fixture.js';
import { chaosServices } from './services.js';

/**
 * The chaos suite: three worker processes run a few hundred workflows (steps, a retried step, a
 * sleep, a signal, a repeat, a branch with children and a merge) while the driver SIGKILLs workers,
 * restarts Redis twice (losing every queued job) and PostgreSQL once. Then it waits for the drain
 * and checks the engine's invariants from the ledger every step body writes.
 *
 * Knobs: CHAOS_RUNS (parent runs, default 200), CHAOS_SECONDS (length of the fault window),
 * CHAOS_DRAIN_SECONDS (how long the drain may take), CHAOS_KEEP=1 (keep the schema to investigate),
 * CHAOS_VERBOSE=1 (print the timeline). Worker logs and the timeline (events.log) are written to
 * $TMPDIR/chronoforge-chaos/<schema>/ and kept when the run fails (or with CHAOS_KEEP).
 */

const RUNS = Number(process.env.CHAOS_RUNS ?? 200);
const WORKERS = 3;
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

interface Worker {
  id: string;
  proc: ChildProcess;
  log: string;
  ready: Promise<void>;
  exited: Promise<void>;
  /** Killed by the driver (as opposed to dying by itself). */
  killed: boolean;
  isReady: boolean;
}

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
  const workers: Worker[] = [];
  let workerSeq = 0;
  const unexpectedExits: string[] = [];
  const stats = { kills: 0, redisRestarts: 0, pgRestarts: 0, bootFailures: 0 };
  let replaceBootFailures = true;
  let passed = false;
  /** PostgreSQL restarts: [stopped at, back at] (ms since epoch; `to` unset while down). */
  const pgOutages: Array<[number, number | undefined]> = [];

  const events: string[] = [];
  let tEvents = Date.now();
  function event(what: string): void {
    events.push(`${String(Date.now() - tEvents).padStart(6)} ms  ${what}`);
  }

  function spawnWorker(): Worker {
    const id = `w${++workerSeq}`;
    const spawnedAt = Date.now();
    event(`${id} spawned`);
    const log = join(logDir, `${id}.log`);
    const fd = openSync(log, 'a');
    const proc = spawn(process.execPath, [script], {
      cwd: root,
      env: {
        ...process.env,
        CF_TEST_SCHEMA: schema,
        CF_TEST_QUEUE: queueName,
        CHAOS_WORKER_ID: id,
      },
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    closeSync(fd);
    const w: Worker = {
      id,
      proc,
      log,
      killed: false,
      isReady: false,
      ready: Promise.resolve(),
      exited: Promise.resolve(),
    };
    w.ready = new Promise<void>((resolve, reject) => {
      proc.on('message', (m) => {
        if (m !== 'ready') return;
        w.isReady = true;
        event(`${id} (pid ${proc.pid}) ready`);
        resolve();
      });
      proc.once('exit', () => reject(new Error(`worker ${id} exited before ready`)));
    });
    w.ready.catch(() => undefined);
    w.exited = new Promise<void>((resolve) =>
      proc.once('exit', (code, signal) => {
        if (w.killed) return resolve();
        // A worker booting while PostgreSQL restarts fails (its migrations cannot run): expected.
        // Any other exit is a defect. Either way, like a process manager, start another one.
        const pgWasDown = pgOutages.some(
          ([from, to]) => from <= Date.now() && (to ?? Infinity) >= spawnedAt,
        );
        if (!w.isReady && pgWasDown) {
          stats.bootFailures++;
          event(`${id} failed to boot during the PostgreSQL restart (code ${code})`);
        } else {
          event(`${id} exited by itself (code ${code}, signal ${signal})`);
          unexpectedExits.push(
            `${id} (pid ${proc.pid}) exited by itself: code ${code}, signal ${signal}; log ${log}`,
          );
        }
        if (replaceBootFailures) setTimeout(() => replaceBootFailures && spawnWorker(), 500);
        resolve();
      }),
    );
    workers.push(w);
    return w;
  }

  const alive = () =>
    workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null && !w.killed);
  const readyWorkers = () => alive().filter((w) => w.isReady);

  async function killAll(): Promise<void> {
    replaceBootFailures = false;
    for (const w of alive()) {
      w.killed = true;
      w.proc.kill('SIGKILL');
    }
    await Promise.all(workers.map((w) => w.exited));
  }

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
      await killAll();
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
    for (let i = 0; i < WORKERS; i++) spawnWorker();
    await Promise.all(workers.map((w) => w.ready));

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
        const ready = readyWorkers();
        if (ready.length < 2) {
          event(`kill skipped: ${ready.length} worker(s) up`);
          continue;
        }
        const victim = ready[Math.floor(Math.random() * ready.length)];
        victim.killed = true;
        victim.proc.kill('SIGKILL');
        stats.kills++;
        event(`SIGKILL ${victim.id} (pid ${victim.proc.pid})`);
        spawnWorker();
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

    // (1) Every run reached its expected terminal state with its expected result.
    const lost: string[] = [];
    for (const r of runs) {
      if (!r.handle) {
        lost.push(`${r.key}: never started`);
        continue;
      }
      try {
        const result = await r.handle.result({ timeout: '1ms' });
        const want = {
          key: r.key,
          signal: `go-${r.key}`,
          gamma: `gamma-go-${r.key}`,
          children: CHAOS_CHILDREN,
        };
        if (!isDeepStrictEqual({ ...result }, want))
          lost.push(`${r.key}: result ${JSON.stringify(result)}`);
      } catch (err) {
        lost.push(`${r.key}: ${(err as Error).message}`);
      }
    }
    const wf = `"${schema}".chrono_forge_workflows`;
    const logs = `"${schema}".chrono_forge_execution_logs`;
    const ledger = `"${schema}".ledger`;
    const lostChildren = await sql<{ key: string; state: string }>(
      `SELECT key, state FROM ${wf} WHERE job_name = 'chaos.child' AND state <> 'completed' ORDER BY key`,
    );
    const childCount = (
      await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${wf} WHERE job_name = 'chaos.child'`,
      )
    )[0].n;
    for (const c of lostChildren) lost.push(`${c.key}: ${c.state}`);
    if (childCount !== RUNS * CHAOS_CHILDREN)
      lost.push(`${childCount} children instead of ${RUNS * CHAOS_CHILDREN}`);

    // (2) No step has two completed logs.
    const duplicates = await sql(
      `SELECT workflow_id, step_name FROM ${logs} WHERE state = 'completed' GROUP BY 1, 2 HAVING count(*) > 1`,
    );

    // (3) No body ran after its step log committed: a body writes its ledger row (in its own
    // transaction) before it returns, so every legitimate row is older than the log's completed_at.
    const afterCommit = await sql<{ key: string; step: string; at: Date; completed_at: Date }>(
      `SELECT l.key, l.step, l.at, e.completed_at FROM ${ledger} l
       JOIN ${wf} w ON w.key = l.key
       JOIN ${logs} e ON e.workflow_id = w.id AND e.step_name = l.step AND e.state = 'completed'
       WHERE l.at > e.completed_at`,
    );
    // Re-executed bodies (crash or lost lock before the log committed): allowed, counted.
    const reexecuted = (
      await sql<{ n: number }>(
        `SELECT COALESCE(sum(n - 1), 0)::int AS n FROM (SELECT count(*) AS n FROM ${ledger}
         WHERE step NOT LIKE '${MARKER_PREFIX}%' GROUP BY key, step) g`,
      )
    )[0].n;
    // A transactional step's ledger row commits with its checkpoint: exactly one row per run.
    const notExactlyOnce = await sql<{ key: string; n: number }>(
      `SELECT key, count(*)::int AS n FROM ${ledger} WHERE step = $1 GROUP BY key HAVING count(*) <> 1`,
      [TRANSACTIONAL_STEP],
    );
    // Sanity of the ledger mapping: every completed body step has a ledger row and vice versa.
    const bodySteps = `(e.step_name LIKE 'step$%' OR e.step_name LIKE 'durably\\_repeat$tick$%')`;
    const missingBodies = await sql(
      `SELECT w.key, e.step_name FROM ${logs} e JOIN ${wf} w ON w.id = e.workflow_id
       WHERE e.state = 'completed' AND ${bodySteps}
         AND NOT EXISTS (SELECT 1 FROM ${ledger} l WHERE l.key = w.key AND l.step = e.step_name)`,
    );
    const orphanBodies = await sql(
      `SELECT l.key, l.step FROM ${ledger} l JOIN ${wf} w ON w.key = l.key
       WHERE l.step NOT LIKE '${MARKER_PREFIX}%'
         AND NOT EXISTS (SELECT 1 FROM ${logs} e WHERE e.workflow_id = w.id AND e.step_name = l.step AND e.state = 'completed')`,
    );
    const expectedBodies = RUNS * (6 + CHAOS_TICKS) + RUNS * CHAOS_CHILDREN * 2;
    const distinctBodies = (
      await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT DISTINCT key, step FROM ${ledger} WHERE step NOT LIKE '${MARKER_PREFIX}%') d`,
      )
    )[0].n;

    // (4) At most one lock holder at a time. Each ledger row records the lock owner of the pass
    // that ran the body and, read in the same statement, the run's `locked_by` at that instant:
    // (a) they must be equal (no body ran while another pass, or nobody, held the lock), and
    // (b) the time windows of two passes over the same run never overlap (pass = one RunScope,
    // i.e. one acquisition; owner strings alone could repeat when BullMQ retries the same job).
    const notHolder = await sql<{
      key: string;
      step: string;
      owner: string;
      holder: string | null;
    }>(`SELECT key, step, owner, holder FROM ${ledger} WHERE holder IS DISTINCT FROM owner`);
    const overlapping = await sql(
      `WITH p AS (SELECT key, pass, min(at) AS t0, max(at) AS t1 FROM ${ledger} GROUP BY key, pass)
       SELECT a.key, a.pass AS a, b.pass AS b FROM p a JOIN p b ON a.key = b.key AND a.pass < b.pass
       WHERE a.t0 <= b.t1 AND b.t0 <= a.t1`,
    );

    // (5) Drained: no run is left non-terminal with nothing scheduled (no wake time, no lock).
    const stranded = await sql<{ key: string; state: string }>(
      `SELECT key, state FROM ${wf} WHERE state IN ('idle', 'running') AND next_run_at IS NULL AND locked_at IS NULL`,
    );
    const open = await sql<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM ${wf} WHERE state <> 'completed' GROUP BY state`,
    );

    const summary =
      `CHAOS runs=${RUNS} (+${childCount} children) workers=${WORKERS} kills=${stats.kills} ` +
      `redis_restarts=${stats.redisRestarts} pg_restarts=${stats.pgRestarts} ` +
      `reexecuted_bodies=${reexecuted} bodies_rerun_after_commit=${afterCommit.length} ` +
      `duplicate_completed_logs=${duplicates.length} transactional_not_exactly_once=${notExactlyOnce.length} ` +
      `lost_runs=${lost.length} ` +
      `lock_violations=${notHolder.length + overlapping.length} stranded=${stranded.length} ` +
      `worker_boot_failures=${stats.bootFailures} unexpected_worker_exits=${unexpectedExits.length} drain_ms=${drainMs}`;
    console.log(summary);
    if (
      lost.length ||
      afterCommit.length ||
      notExactlyOnce.length ||
      notHolder.length ||
      overlapping.length ||
      missingBodies.length ||
      orphanBodies.length
    ) {
      console.log(
        JSON.stringify(
          {
            lost: lost.slice(0, 20),
            open,
            afterCommit: afterCommit.slice(0, 10),
            notExactlyOnce: notExactlyOnce.slice(0, 10),
            notHolder: notHolder.slice(0, 10),
            overlapping: overlapping.slice(0, 10),
            missingBodies: missingBodies.slice(0, 10),
            orphanBodies: orphanBodies.slice(0, 10),
            logs: logDir,
          },
          null,
          2,
        ),
      );
      if (!process.env.CHAOS_VERBOSE) console.log(events.join('\n'));
    }
    if (unexpectedExits.length) {
      console.log(unexpectedExits.join('\n'));
      for (const e of unexpectedExits.slice(0, 2)) {
        const file = e.split('log ').at(-1)!;
        console.log(readFileSync(file, 'utf8').split('\n').slice(-30).join('\n'));
      }
    }

    expect(lost, 'lost runs').toEqual([]);
    expect(duplicates, 'duplicate completed logs').toEqual([]);
    expect(afterCommit, 'bodies re-run after their log committed').toEqual([]);
    expect(notExactlyOnce, 'transactional steps not exactly once').toEqual([]);
    expect(missingBodies, 'completed steps whose body never ran').toEqual([]);
    expect(orphanBodies, 'bodies whose step never completed').toEqual([]);
    expect(distinctBodies).toBe(expectedBodies);
    expect(notHolder, 'bodies run without holding the lock').toEqual([]);
    expect(overlapping, 'overlapping passes').toEqual([]);
    expect(stranded, 'stranded runs').toEqual([]);
    expect(open, 'non-terminal runs').toEqual([]);
    expect(unexpectedExits, 'workers that died by themselves').toEqual([]);
    expect(stats).toMatchObject({ redisRestarts: 2, pgRestarts: 1 });
    expect(stats.kills).toBeGreaterThan(0);
    passed = true;
  });
});

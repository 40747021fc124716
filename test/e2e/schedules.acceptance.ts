import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { Ledger } from '../fixtures/ledger.fixture.js';
import { scheduleProviders } from '../fixtures/schedules.fixture.js';
import { bootApp } from '../support/app.js';
import { type ChildWorker, ensureCompiled, spawnWorker } from '../support/child-worker.js';
import { cleanup, DATABASE_URL, eventually, sql, uniqueName } from '../support/env.js';

const WORKERS = 3;
/** How long the every-second schedule is watched, and how long the simulated outage lasts. */
const ACTIVE_MS = 30_000;
const OUTAGE_MS = 10 * 60_000;
/** Schedules due at the same instant (issue 21: many due schedules are handled promptly). */
const MANY = 200;
/** Advisory lock of the multi-process suites (see schedules-cluster.e2e.spec.ts). */
const SUITE_LOCK = 17_017_017;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECOND = 1_000;

/**
 * Issue 21's acceptance sizes, across 3 worker processes on the default schedule options (no fast
 * poll: workers sleep until the next due tick and are woken by NOTIFY on schedule writes).
 *
 * The 10-minute outage is not slept through. Every worker is stopped, then the outage schedules'
 * rows are seeded to the state a real outage leaves: last tick fired 10 min ago, next tick (and
 * due time) the second after it. The restarted workers run with the real clock, so the ordinary
 * catch-up path (`planTicks`: window cut, O(1) collapse, batches of 100 ticks per claim) handles
 * them — nothing in the engine knows the gap was seeded. (A worker clock 10 min ahead would also
 * skew every run's timestamps against PostgreSQL's `now()`, which is not how an outage looks.)
 */
describe('schedules acceptance across 3 worker processes', () => {
  const schema = uniqueName('cf_schedacc');
  const queueName = uniqueName('q_schedacc');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let workers: ChildWorker[] = [];
  let turn: pg.Client | undefined;

  /** Runs of a schedule (by name pattern): tick, creation, state. */
  const runs = async (pattern: string) =>
    (
      await sql<{ key: string; state: string; at: string; created: Date }>(
        `SELECT key, state, input->>'scheduledAt' AS at, created_at AS created
         FROM "${schema}".chrono_forge_workflows WHERE key LIKE $1 ORDER BY key`,
        [`sched:${pattern}:%`],
      )
    ).map((r) => ({ ...r, tick: Date.parse(r.at), created: r.created.getTime() }));
  /** Run keys of a schedule whose body ran other than exactly once (none expected). */
  const notOnce = async (schedule: string) =>
    sql<{ key: string; n: number }>(
      `SELECT w.key, count(l.key)::int AS n FROM "${schema}".chrono_forge_workflows w
       LEFT JOIN "${schema}".ledger l ON l.key = w.key
       WHERE w.key LIKE $1 AND w.state = 'completed' GROUP BY w.key HAVING count(l.key) <> 1`,
      [`sched:${schedule}:%`],
    );
  /** Every tick of `ticks` has a run (in `states`, when given). */
  const haveRuns = async (schedule: string, ticks: number[], states?: string[]) => {
    const rs = (await runs(schedule)).filter((r) => !states || states.includes(r.state));
    const done = new Set(rs.map((r) => r.tick));
    return ticks.every((t) => done.has(t));
  };
  const completed = (schedule: string, ticks: number[]) => haveRuns(schedule, ticks, ['completed']);
  const startWorkers = async () => {
    workers = Array.from({ length: WORKERS }, () =>
      spawnWorker(schema, queueName, { CF_SCHED_DEFAULT_POLL: '1' }, 'schedule-worker.main.js'),
    );
    await Promise.all(workers.map((w) => w.ready));
  };
  const stopWorkers = async () => {
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  };
  /** Whole seconds from `from` to `to`, both included. */
  const seconds = (from: number, to: number) =>
    Array.from({ length: Math.max(0, (to - from) / SECOND + 1) }, (_, i) => from + i * SECOND);
  const floorS = (ms: number) => Math.floor(ms / SECOND) * SECOND;

  beforeAll(async () => {
    ensureCompiled();
    turn = new pg.Client({ connectionString: DATABASE_URL });
    await turn.connect();
    await turn.query('SELECT pg_advisory_lock($1)', [SUITE_LOCK]);
    process.env.CF_TEST_SCHEMA = schema;
    app = await bootApp({
      schema,
      queueName,
      providers: scheduleProviders,
      options: { worker: false },
    });
    await Ledger.createTable(schema, { query: (q: string) => sql(q) });
    client = app.get(WorkflowClient);
    await startWorkers();
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    await app?.close();
    await cleanup(schema, queueName);
    await turn?.end();
  });

  it('should start exactly one run per tick of a * * * * * * schedule over 30 s', async () => {
    const from = Math.ceil(Date.now() / SECOND) * SECOND + SECOND;
    await sleep(from + ACTIVE_MS - Date.now());
    const window = seconds(from, from + ACTIVE_MS);
    await eventually(() => completed('every-second', window), 30_000, 'every tick to complete');
    const inWindow = (await runs('every-second')).filter((r) => window.includes(r.tick));
    expect(inWindow.map((r) => r.tick)).toEqual(window);
    expect(await notOnce('every-second')).toEqual([]);
  }, 90_000);

  it('should catch up a 10-minute outage: every tick inside a 1 h window, collapse past a 2 s window', async () => {
    await stopWorkers();
    const missedBefore = (await client.schedules.get('every-second')).ticks.missed;
    const stopped = floorS(Date.now());
    // 'skip' on the short window: the burst left after the collapse starts one run.
    const outage = { cron: '* * * * * *', workflow: 'sched.quick' } as const;
    await client.schedules.create('outage-1h', {
      ...outage,
      overlap: 'allow',
      catchupWindow: '1h',
    });
    await client.schedules.create('outage-2s', { ...outage, overlap: 'skip', catchupWindow: '2s' });
    const first = stopped - OUTAGE_MS;
    await sql(
      `UPDATE "${schema}".chrono_forge_schedules
       SET last_tick_at = $1, next_tick_at = $2, due_at = $2 WHERE name LIKE 'outage-%'`,
      [new Date(first - SECOND), new Date(first)],
    );
    // NOTE: the first worker to be ready claims before the others are: the claims come after
    // `restarting`, not after `startWorkers` resolved (the run checks below are against it).
    const restarting = Date.now();
    await startWorkers();
    const restarted = Date.now();

    // 1 h window: one run per missed second, each body once.
    const missedTicks = seconds(first, floorS(restarted));
    expect(missedTicks.length).toBeGreaterThanOrEqual(OUTAGE_MS / SECOND);
    // Started, not completed: running 600 runs is the engine's throughput, not the schedule's
    // concern, and takes minutes on a loaded 2-core machine. Bodies that ran are checked below.
    await eventually(() => haveRuns('outage-1h', missedTicks), 120_000, 'the 600 catch-up runs');
    const caught = (await runs('outage-1h')).map((r) => r.tick);
    expect(caught.slice(0, missedTicks.length)).toEqual(missedTicks);
    expect(new Set(caught).size).toBe(caught.length);
    await eventually(
      async () => (await runs('outage-1h')).filter((r) => r.state === 'completed').length >= 30,
      60_000,
      'some catch-up runs to complete',
    );
    expect(await notOnce('outage-1h')).toEqual([]);

    // 2 s window: the ticks older than the window at the first claim are collapsed into a report,
    // no run; that claim starts one run ('skip': the rest of its burst is skipped). On a loaded
    // machine a later claim may come more than 2 s after its tick and report again: the counts
    // below hold either way.
    const info = await client.schedules.get('outage-2s');
    expect(info.lastMissed?.exact).toBe(true);
    expect(info.ticks.missed).toBeGreaterThanOrEqual(OUTAGE_MS / SECOND - 2);
    const short = await runs('outage-2s');
    expect(short.filter((r) => r.tick < restarting - 2 * SECOND)).toEqual([]);
    // The first claim (after `restarting`) holds every tick up to `restarting` in its burst.
    expect(short.filter((r) => r.tick <= restarting).length).toBeLessThanOrEqual(1);
    expect(short.length).toBeGreaterThanOrEqual(1);
    // Every second from the outage's first tick to the last claim is a run, skipped or missed.
    const after = await client.schedules.get('outage-2s');
    const last = after.lastTickAt!.getTime();
    const accounted = after.ticks.fired + after.ticks.skipped + after.ticks.missed;
    expect(accounted).toBe((last - first) / SECOND + 1);
    expect(await notOnce('outage-2s')).toEqual([]);
    // The decorator schedule (1 h window) lost nothing to the real, short stop either.
    expect((await client.schedules.get('every-second')).ticks.missed).toBe(missedBefore);
    await client.schedules.delete('outage-1h');
    await client.schedules.delete('outage-2s');
  }, 300_000);

  it('should start one run per trigger and per backfilled tick, once across the cluster', async () => {
    await client.schedules.create('manual', {
      cron: '* * * * * *',
      workflow: 'sched.quick',
      overlap: 'allow',
      paused: true,
    });
    const key = await client.schedules.trigger('manual');
    await eventually(async () => (await runs('manual')).length === 1, 60_000, 'the trigger run');
    expect((await runs('manual')).map((r) => r.key)).toEqual([key]);
    const to = floorS(Date.now()) - 60 * SECOND;
    const range = seconds(to - 19 * SECOND, to);
    expect(await client.schedules.backfill('manual', new Date(range[0]), new Date(to))).toEqual({
      ticks: 20,
    });
    // Repeated: the same keys, so no tick gets a second run.
    await client.schedules.backfill('manual', new Date(range[0]), new Date(to));
    await eventually(() => haveRuns('manual', range), 90_000, 'the backfilled runs');
    await sleep(SECOND);
    const all = await runs('manual');
    expect(all.map((r) => r.tick).filter((t) => range.includes(t))).toEqual(range);
    expect(all).toHaveLength(range.length + 1);
    expect(await notOnce('manual')).toEqual([]);
  }, 60_000);

  it(`should start the runs of ${MANY} schedules due at the same tick within seconds`, async () => {
    await client.schedules.pause('every-second');
    const names = Array.from({ length: MANY }, (_, i) => `many-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < MANY; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map((name) =>
          // 'allow': a run of the previous tick still going must not skip the measured one.
          client.schedules.create(name, {
            cron: '*/10 * * * * *',
            workflow: 'sched.quick',
            overlap: 'allow',
          }),
        ),
      );
    }
    const created = Date.now();
    const tick = Math.ceil((created + SECOND) / (10 * SECOND)) * 10 * SECOND;
    const atTick = async () => (await runs('many-%')).filter((r) => r.tick === tick);
    const started = await eventually(
      async () => {
        const rs = await atTick();
        return rs.length === MANY ? rs : null;
      },
      60_000,
      `${MANY} runs of tick ${new Date(tick).toISOString()}`,
    ).catch(async (err: Error) => {
      const n = (await atTick()).length;
      throw new Error(`${err.message} (${n} started)\n${workers[0].output().slice(-3000)}`);
    });
    const lag = Math.max(...started.map((r) => r.created)) - tick;
    // Claims of 20 schedules per transaction, shared by 3 workers. Measured on a 2-core machine at
    // load average 20 (other suites beside): 7.8 s, against 29.7 s with one schedule per claim.
    expect(lag).toBeLessThan(10 * SECOND);
  }, 120_000);
});

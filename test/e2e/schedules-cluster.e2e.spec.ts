import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScheduleOverlap, WorkflowClient } from '../../lib/index.js';
import { Ledger } from '../fixtures/ledger.fixture.js';
import { scheduleProviders } from '../fixtures/schedules.fixture.js';
import { bootApp } from '../support/app.js';
import { type ChildWorker, ensureCompiled, spawnWorker } from '../support/child-worker.js';
import {
  cleanup,
  DATABASE_URL,
  eventually,
  QUEUE_BACKEND,
  sql,
  uniqueName,
} from '../support/env.js';

const WORKERS = 3;
/** How long the overlap schedules tick, and how long every worker stays down. */
const ACTIVE_MS = 5_000;
const OUTAGE_MS = 5_000;
/**
 * Advisory lock held for the whole suite: multi-process suites (this one on each queue backend,
 * and any other suite that takes this lock) take turns, or together they exhaust PostgreSQL's connections and
 * the 2-core machine that their timings rely on.
 */
const SUITE_LOCK = 17_017_017;
/**
 * Connections the suite holds at its peak: per worker 3 pooled + heartbeat + wake listener, plus
 * on the PostgreSQL queue 4 + 1 for enqueues and 3 + 1 for the job loop; the client app besides.
 */
const CONNECTIONS = QUEUE_BACKEND === 'postgres' ? WORKERS * 14 + 12 : WORKERS * 5 + 7;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  key: string;
  state: string;
  tick: number;
  created: number;
  finished: number | null;
}

describe('schedules across 3 worker processes (e2e)', () => {
  const schema = uniqueName('cf_schedc');
  const queueName = uniqueName('q_schedc');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let workers: ChildWorker[] = [];
  let turn: pg.Client | undefined;
  const overlaps: ScheduleOverlap[] = ['allow', 'skip', 'bufferOne', 'cancelPrevious'];

  const runs = async (schedule: string): Promise<Run[]> =>
    (
      await sql<{ key: string; state: string; at: string; created: Date; finished: Date | null }>(
        `SELECT key, state, input->>'scheduledAt' AS at, created_at AS created, finished_at AS finished
         FROM "${schema}".chrono_forge_workflows WHERE key LIKE $1 ORDER BY key`,
        [`sched:${schedule}:%`],
      )
    ).map((r) => ({
      key: r.key,
      state: r.state,
      tick: Date.parse(r.at),
      created: r.created.getTime(),
      finished: r.finished?.getTime() ?? null,
    }));
  /** Bodies executed per run key of a schedule (a body records one ledger row). */
  const bodies = async (schedule: string) =>
    sql<{ key: string; n: number }>(
      `SELECT key, count(*)::int AS n FROM "${schema}".ledger WHERE key LIKE $1 GROUP BY key`,
      [`sched:${schedule}:%`],
    );
  const startWorkers = async () => {
    workers = Array.from({ length: WORKERS }, () =>
      spawnWorker(schema, queueName, {}, 'schedule-worker.main.js'),
    );
    await Promise.all(workers.map((w) => w.ready));
  };
  /** Stops every worker (SIGTERM: a clean shutdown); returns when the signal was sent. */
  const stopWorkers = async () => {
    const at = Date.now();
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    return at;
  };
  /** Whole seconds from `from` to `to`, both included. */
  const seconds = (from: number, to: number) =>
    Array.from({ length: (to - from) / 1000 + 1 }, (_, i) => from + i * 1000);

  beforeAll(async () => {
    ensureCompiled();
    turn = new pg.Client({ connectionString: DATABASE_URL });
    await turn.connect();
    await turn.query('SELECT pg_advisory_lock($1)', [SUITE_LOCK]);
    // The server is shared with the rest of the suite: start once there is room (or after 60 s).
    await eventually(async () => {
      const [{ free }] = await sql<{ free: number }>(
        `SELECT current_setting('max_connections')::int - count(*)::int AS free FROM pg_stat_activity`,
      );
      return free >= CONNECTIONS + 10;
    }, 60_000).catch(() => undefined);
    process.env.CF_TEST_SCHEMA = schema;
    // This process only manages schedules; the child workers fire ticks and run the workflows.
    app = await bootApp({
      schema,
      queueName,
      providers: scheduleProviders,
      options: { worker: false },
    });
    await Ledger.createTable(schema, { query: (q: string) => sql(q) });
    client = app.get(WorkflowClient);
    for (const overlap of overlaps) {
      await client.schedules.create(`overlap-${overlap}`, {
        cron: '* * * * * *',
        workflow: 'sched.slow',
        overlap,
        paused: true,
      });
    }
    await client.schedules.create('collapse-2s', {
      cron: '* * * * * *',
      workflow: 'sched.quick',
      overlap: 'allow',
      catchupWindow: '2s',
    });
    await startWorkers();
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    await app?.close();
    await cleanup(schema, queueName);
    await turn?.end();
  });

  it('should start exactly one run per tick, and apply each overlap policy to a run outlasting its interval', async () => {
    const resumedAt = Date.now();
    for (const o of overlaps) await client.schedules.resume(`overlap-${o}`);
    await sleep(ACTIVE_MS);
    for (const o of overlaps) await client.schedules.pause(`overlap-${o}`);
    const pausedAt = Date.now();

    // every-second (@Scheduled, 'allow'): one run, one body, per second of the window.
    const window = seconds(Math.ceil(resumedAt / 1000) * 1000, Math.floor(pausedAt / 1000) * 1000);
    const ticks = await eventually(async () => {
      const done = (await runs('every-second')).filter((r) => r.state === 'completed');
      return window.every((t) => done.some((r) => r.tick === t)) ? done : null;
    }, 5_000);
    expect(ticks.filter((r) => window.includes(r.tick)).map((r) => r.tick)).toEqual(window);
    const perKey = await bodies('every-second');
    expect(perKey.filter((b) => b.n !== 1)).toEqual([]);
    expect(perKey.length).toBe(ticks.length);

    await eventually(async () => {
      const all = await Promise.all(overlaps.map((o) => runs(`overlap-${o}`)));
      return all.every((rs) => rs.every((r) => r.finished !== null));
    }, 8_000);
    const [allow, skip, buffer, cancel] = await Promise.all(
      overlaps.map((o) => runs(`overlap-${o}`)),
    );
    const overlapping = (rs: Run[]) =>
      rs.some((r, i) => i > 0 && r.created < (rs[i - 1].finished as number));
    // allow: a run per tick, running side by side.
    expect(allow.length).toBeGreaterThanOrEqual(ACTIVE_MS / 1000 - 1);
    expect(overlapping(allow)).toBe(true);
    // skip: never two at once; the ticks in between were counted as skipped.
    expect(skip.length).toBeGreaterThanOrEqual(2);
    expect(overlapping(skip)).toBe(false);
    const skipInfo = await client.schedules.get('overlap-skip');
    expect(skipInfo.ticks.skipped).toBeGreaterThanOrEqual(skip.length);
    // bufferOne: never two at once; a held tick starts as soon as the previous run ends.
    expect(overlapping(buffer)).toBe(false);
    const held = buffer.filter((r, i) => i > 0 && r.created - r.tick > 1_000);
    expect(held.length).toBeGreaterThanOrEqual(1);
    for (const r of held) {
      const prev = buffer[buffer.indexOf(r) - 1];
      expect(r.created - (prev.finished as number)).toBeLessThan(1_600);
    }
    // cancelPrevious: every tick starts a run and cancels the one before it.
    expect(cancel.length).toBeGreaterThanOrEqual(ACTIVE_MS / 1000 - 1);
    expect(cancel.slice(0, -1).map((r) => r.state)).toEqual(
      cancel.slice(0, -1).map(() => 'cancelled'),
    );
    expect(cancel.at(-1)?.state).toBe('completed');
  }, 30_000);

  it('should catch up every tick missed while all workers were down (1 h window) and collapse older ones (2 s window)', async () => {
    const missedBefore = (await client.schedules.get('collapse-2s')).ticks.missed;
    const stoppedAt = await stopWorkers();
    await sleep(OUTAGE_MS);
    await startWorkers();
    const restartedAt = Date.now();

    // every-second: a run per tick before, during and after the outage, each body run once.
    const caughtUp = await eventually(async () => {
      const done = (await runs('every-second')).filter((r) => r.state === 'completed');
      const first = done[0].tick;
      const span = seconds(first, Math.floor(restartedAt / 1000) * 1000);
      return span.every((t) => done.some((r) => r.tick === t)) ? { done, span } : null;
    }, 10_000);
    expect(caughtUp.done.slice(0, caughtUp.span.length).map((r) => r.tick)).toEqual(caughtUp.span);
    expect(
      caughtUp.span.filter((t) => t > stoppedAt && t < restartedAt).length,
    ).toBeGreaterThanOrEqual(OUTAGE_MS / 1000 - 1);
    expect((await bodies('every-second')).filter((b) => b.n !== 1)).toEqual([]);

    // collapse-2s: ticks older than 2 s at the restart reported once, the rest started.
    const info = await eventually(async () => {
      const i = await client.schedules.get('collapse-2s');
      return i.lastMissed && i.lastMissed.at.getTime() > stoppedAt ? i : null;
    }, 5_000);
    const missed = info.lastMissed!;
    expect(missed.exact).toBe(true);
    expect(missed.count).toBeGreaterThanOrEqual(OUTAGE_MS / 1000 - 3);
    expect(info.ticks.missed - missedBefore).toBe(missed.count);
    expect(missed.from.getTime()).toBeGreaterThan(stoppedAt - 1_000);
    expect(missed.to.getTime()).toBeLessThan(restartedAt);
    const collapsed = seconds(missed.from.getTime(), missed.to.getTime());
    expect(collapsed.length).toBe(missed.count);
    const started = await runs('collapse-2s');
    expect(started.filter((r) => collapsed.includes(r.tick))).toEqual([]);
    // Every tick from the first run to the restart is either a run or in the report, never both.
    const span = seconds(started[0].tick, Math.floor(restartedAt / 1000) * 1000);
    const ran = new Set(started.map((r) => r.tick));
    expect(span.filter((t) => !ran.has(t) && !collapsed.includes(t))).toEqual([]);
    const afterOutage = started.filter(
      (r) => r.tick > missed.to.getTime() && r.tick <= restartedAt,
    );
    expect(afterOutage.length).toBeGreaterThanOrEqual(1);
    expect((await bodies('collapse-2s')).filter((b) => b.n !== 1)).toEqual([]);
  }, 40_000);
});

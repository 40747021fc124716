import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidCronError,
  ReservedNameError,
  ScheduleExistsError,
  ScheduleNotEditableError,
  ScheduleNotFoundError,
  WorkflowClient,
  WorkflowNotFoundError,
} from '../../lib/index.js';
import { ScheduleTicker } from '../../lib/worker/schedule-ticker.js';
import { Ledger } from '../fixtures/ledger.fixture.js';
import { scheduleProviders } from '../fixtures/schedules.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';

const HOUR = 3_600_000;

describe('schedules in one process (e2e)', () => {
  const schema = uniqueName('cf_sched');
  const queueName = uniqueName('q_sched');
  let app: INestApplicationContext;
  let client: WorkflowClient;

  const runs = (prefix: string) =>
    sql<{ key: string; state: string; input: { scheduledAt: string; origin?: string } }>(
      `SELECT key, state, input FROM "${schema}".chrono_forge_workflows WHERE key LIKE $1 ORDER BY key`,
      [`sched:${prefix}:%`],
    );

  beforeAll(async () => {
    process.env.CF_TEST_SCHEMA = schema;
    app = await bootApp({
      schema,
      queueName,
      providers: scheduleProviders,
      options: { schedules: { pollEvery: '100ms' } },
    });
    await Ledger.createTable(schema, { query: (q: string) => sql(q) });
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should write @Scheduled at boot and start one run per second with the tick as a Date', async () => {
    const info = await client.schedules.get('every-second');
    expect(info).toMatchObject({
      workflow: 'sched.tick',
      cron: '* * * * * *',
      origin: 'decorator',
      overlap: 'allow',
      state: 'active',
      input: { origin: 'decorator' },
      catchupWindowMs: HOUR,
    });
    expect(info.nextTicks.map((d) => d.getTime() % 1000)).toEqual([0, 0, 0, 0, 0]);
    const done = await eventually(async () => {
      const rows = (await runs('every-second')).filter((r) => r.state === 'completed');
      return rows.length >= 2 ? rows : null;
    }, 5_000);
    for (const r of done) {
      expect(r.key).toBe(`sched:every-second:${r.input.scheduledAt}`);
      expect(r.input.origin).toBe('decorator');
    }
    const kinds = await sql<{ step: string }>(
      `SELECT DISTINCT step FROM "${schema}".ledger WHERE key LIKE 'sched:every-second:%'`,
    );
    expect(kinds).toEqual([{ step: 'date' }]);
    await client.schedules.pause('every-second');
    expect((await client.schedules.get('every-second')).state).toBe('paused');
  });

  it('should refuse bad definitions, taken names and edits of @Scheduled schedules', async () => {
    await expect(
      client.schedules.create('bad', { cron: '61 * * * *', workflow: 'sched.quick' }),
    ).rejects.toThrow(InvalidCronError);
    await expect(
      client.schedules.create('bad', { cron: '* * * * *', workflow: 'nope' }),
    ).rejects.toThrow(WorkflowNotFoundError);
    await expect(
      client.schedules.create('bad', {
        cron: '* * * * *',
        workflow: 'sched.quick',
        input: { scheduledAt: 1 },
      }),
    ).rejects.toThrow(/may not set "scheduledAt"/);
    await expect(
      client.schedules.create('bad', {
        cron: '* * * * *',
        workflow: 'sched.quick',
        catchupWindow: '10ms',
      }),
    ).rejects.toThrow(/at least 1s/);
    await expect(
      client.schedules.create('a$b', { cron: '* * * * *', workflow: 'sched.quick' }),
    ).rejects.toThrow(ReservedNameError);
    await expect(
      client.schedules.create('every-second', { cron: '* * * * *', workflow: 'sched.quick' }),
    ).rejects.toThrow(ScheduleExistsError);
    await expect(client.schedules.update('every-second', { cron: '0 * * * *' })).rejects.toThrow(
      ScheduleNotEditableError,
    );
    await expect(client.schedules.delete('every-second')).rejects.toThrow(ScheduleNotEditableError);
    await expect(client.schedules.get('missing')).rejects.toThrow(ScheduleNotFoundError);
    await expect(client.schedules.trigger('missing')).rejects.toThrow(ScheduleNotFoundError);
    expect((await client.schedules.list()).map((s) => s.name)).toEqual(['every-second']);
  });

  it('should create, update, list and delete a schedule', async () => {
    const created = await client.schedules.create('tenant-42.digest', {
      cron: '0 8 * * *',
      timeZone: 'Europe/Paris',
      workflow: 'sched.quick',
      input: { origin: 'tenant-42' },
    });
    expect(created).toMatchObject({ origin: 'client', state: 'active', overlap: 'skip' });
    expect(created.nextTicks[0].toISOString()).toMatch(/T0[67]:00:00\.000Z$/);
    const updated = await client.schedules.update('tenant-42.digest', {
      cron: '30 9 * * *',
      overlap: 'allow',
    });
    expect(updated).toMatchObject({
      cron: '30 9 * * *',
      overlap: 'allow',
      timeZone: 'Europe/Paris',
    });
    expect(updated.nextTicks[0].toISOString()).toMatch(/T0[78]:30:00\.000Z$/);
    expect((await client.schedules.list({ workflow: 'sched.quick' })).map((s) => s.name)).toEqual([
      'tenant-42.digest',
    ]);
    await client.schedules.delete('tenant-42.digest');
    await expect(client.schedules.get('tenant-42.digest')).rejects.toThrow(ScheduleNotFoundError);
  });

  it('should start a run on trigger, even while paused, and backfill a past range once', async () => {
    await client.schedules.create('manual', {
      cron: '0 * * * *',
      workflow: 'sched.quick',
      paused: true,
      overlap: 'skip',
    });
    const key = await client.schedules.trigger('manual');
    expect(key).toMatch(/^sched:manual:\d{4}-.*Z$/);
    const handle = await eventually(() => client.handle(key).catch(() => null), 5_000);
    await expect(handle.result({ timeout: '5s' })).resolves.toBe('date');

    const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
    const from = new Date(to.getTime() - 5 * HOUR);
    expect(await client.schedules.backfill('manual', from, to)).toEqual({ ticks: 6 });
    const hours = Array.from({ length: 6 }, (_, i) =>
      new Date(from.getTime() + i * HOUR).toISOString(),
    );
    await eventually(async () => {
      const rows = (await runs('manual')).filter((r) => hours.includes(r.input.scheduledAt));
      return rows.length === 6 && rows.every((r) => r.state === 'completed');
    }, 5_000);
    expect(await client.schedules.backfill('manual', from, to)).toEqual({ ticks: 6 });
    await eventually(async () => (await client.schedules.get('manual')).pending.backfills === 0);
    expect((await runs('manual')).length).toBe(7);
    const info = await client.schedules.get('manual');
    expect(info.ticks.fired).toBe(13);
    expect(info.lastRun).toEqual({ key, state: 'completed' });
    await expect(client.schedules.backfill('manual', new Date(0), new Date())).rejects.toThrow(
      /more than 10000 ticks/,
    );
  });

  it('should fire nothing while paused and resume from the next tick', async () => {
    await client.schedules.create('pausable', { cron: '* * * * * *', workflow: 'sched.quick' });
    await eventually(async () => (await runs('pausable')).length >= 1, 5_000);
    await client.schedules.pause('pausable');
    const pausedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2_200));
    const resumedAt = Date.now();
    await client.schedules.resume('pausable');
    await eventually(async () => {
      const after = (await runs('pausable')).filter(
        (r) => Date.parse(r.input.scheduledAt) > resumedAt,
      );
      return after.length >= 1;
    }, 5_000);
    const during = (await runs('pausable')).filter((r) => {
      const t = Date.parse(r.input.scheduledAt);
      return t > pausedAt + 50 && t < resumedAt;
    });
    expect(during).toEqual([]);
    await client.schedules.delete('pausable');
  });

  it('should restore a changed @Scheduled at boot and delete one the code no longer declares', async () => {
    const table = `"${schema}".chrono_forge_schedules`;
    await sql(`UPDATE ${table} SET cron = '0 0 * * *', paused = true WHERE name = 'every-second'`);
    await sql(
      `INSERT INTO ${table} (name, workflow, cron, catchup_window_ms, origin) VALUES ('gone', 'sched.quick', '* * * * *', 1000, 'decorator')`,
    );
    await app.get(ScheduleTicker).syncDeclared();
    const info = await client.schedules.get('every-second');
    expect(info).toMatchObject({ cron: '* * * * * *', state: 'paused' });
    await expect(client.schedules.get('gone')).rejects.toThrow(ScheduleNotFoundError);
  });
});

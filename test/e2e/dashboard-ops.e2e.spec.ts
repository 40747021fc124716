import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { Ledger, ledgerProviders } from '../fixtures/ledger.fixture.js';
import { lifecycleProviders } from '../fixtures/lifecycle.fixture.js';
import { failingUndos, sagaProviders } from '../fixtures/saga.fixture.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';
import { Gate, opsProviders } from './dashboard-ops.fixture.js';
import { bootDashboardApp, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/**
 * The dashboard's saga, schedule and limit views over HTTP: a run's compensation timeline, cancel
 * with a reason (and children), the schedules page with its buttons, and the limits page.
 */
describe('dashboard: compensations, cancel with reason, schedules, limits (e2e)', () => {
  const schema = uniqueName('cf_dops');
  const queueName = uniqueName('q_dops');
  let app: INestApplication;
  let client: WorkflowClient;
  let base: string;

  const get = (path: string) =>
    fetch(`${base}${path}`, { headers: { [TOKEN_HEADER]: TOKEN }, redirect: 'manual' });
  /** GETs `path` and POSTs `fields` (with its CSRF token and cookie) to `action`. */
  const post = async (path: string, action: string, fields: Record<string, string> = {}) => {
    const page = await get(path);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
    const token = /name="_csrf"\s+value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    return fetch(`${base}${action}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        [TOKEN_HEADER]: TOKEN,
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ _csrf: token, ...fields }).toString(),
    });
  };
  const idOf = async (key: string) =>
    (
      await sql<{ id: string }>(
        `SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
        [key],
      )
    )[0].id;
  const ended = (key: string) =>
    eventually(
      async () => {
        const run = await client.get(key);
        return ['idle', 'running', 'compensating'].includes(run.state) ? null : run;
      },
      20_000,
      `${key} to end`,
    );

  beforeAll(async () => {
    process.env.CF_TEST_SCHEMA = schema;
    app = await bootDashboardApp(schema, queueName, 'express', {
      providers: [...ledgerProviders, ...sagaProviders, ...lifecycleProviders, ...opsProviders],
      options: { limits: { gate: { concurrency: 1 }, api: { rate: { limit: 3, per: '1s' } } } },
    });
    await Ledger.createTable(schema, { query: (q: string) => sql(q) });
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/api/ops/cf`;
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    app?.get(Gate).release();
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should show the compensations of a rolled-back run in the order they ran', async () => {
    await client.start('saga.four', { key: 'four', input: { failAt: 4 } });
    const run = await ended('four');
    expect(run.state).toBe('compensated');
    const html = await (await get(`/runs/${await idOf('four')}`)).text();
    expect(html).toContain('<h2>Compensations</h2>');
    expect(html).toContain(`began on <b>${run.compensation?.cause}</b>`);
    const shown = [...html.matchAll(/data-compensation="([^"]+)"/g)].map((m) => m[1]);
    expect(shown).toHaveLength(3);
    expect(shown).toEqual(run.compensation?.compensated?.map((s) => `$compensate$${s}`));
    expect(html).not.toContain('listed as failed');
  });

  it('should mark a compensation that kept failing, and show none on a run without rollback', async () => {
    failingUndos.add('undo-fails:2');
    await client.start('saga.four', { key: 'undo-fails', input: { failAt: 4 } });
    expect((await ended('undo-fails')).state).toBe('failed');
    const html = await (await get(`/runs/${await idOf('undo-fails')}`)).text();
    expect(html).toMatch(/data-compensation="\$compensate\$step\$act#2">[\s\S]*?listed as failed/);
    await client.start('saga.four', { key: 'happy', input: {} });
    expect((await ended('happy')).state).toBe('completed');
    expect(await (await get(`/runs/${await idOf('happy')}`)).text()).not.toContain('Compensations');
  });

  it('should cancel a run with a reason and its children from the cancel page, behind CSRF', async () => {
    await client.start('life.sleeper', { key: 'sleepy', input: { steps: 1 } });
    await eventually(async () => (await client.get('sleepy')).state === 'idle', 15_000);
    const id = await idOf('sleepy');
    const page = await (await get(`/runs/${id}/confirm/cancel`)).text();
    expect(page).toContain('name="reason"');
    expect(page).toContain('name="children"');
    const forged = await fetch(`${base}/runs/${id}/cancel`, {
      method: 'POST',
      redirect: 'manual',
      headers: { [TOKEN_HEADER]: TOKEN, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'confirm=yes&reason=nope',
    });
    expect(forged.status).toBe(403);
    expect((await client.get('sleepy')).state).toBe('idle');
    const fields = { confirm: 'yes', reason: 'customer asked', children: 'yes' };
    const res = await post(`/runs/${id}/confirm/cancel`, `/runs/${id}/cancel`, fields);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/api/ops/cf/runs/${id}?notice=cancelled`);
    const run = await client.get('sleepy');
    expect(run.state).toBe('cancelled');
    expect(run.cancelReason).toBe('customer asked');
    expect(await (await get(`/runs/${id}`)).text()).toMatch(
      /<dd class="cancel-reason">customer asked<\/dd>/,
    );
  });

  it('should list schedules and pause, resume and trigger one', async () => {
    await client.schedules.create('nightly', { workflow: 'ops.nightly', cron: '0 3 * * *' });
    const row = async () => {
      const html = await (await get('/schedules')).text();
      return /<tr data-schedule="nightly">[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
    };
    expect(await row()).toContain('<code>0 3 * * *</code>');
    expect(await row()).toContain('Pause');
    const pause = await post('/schedules', '/schedules/nightly/pause');
    expect(pause.status).toBe(303);
    expect(pause.headers.get('location')).toBe('/api/ops/cf/schedules?notice=schedule-pause');
    expect((await client.schedules.get('nightly')).state).toBe('paused');
    expect(await row()).toContain('Resume');
    expect((await post('/schedules', '/schedules/nightly/resume')).status).toBe(303);
    expect((await client.schedules.get('nightly')).state).toBe('active');
    expect((await post('/schedules', '/schedules/nightly/trigger')).status).toBe(303);
    const last = await eventually(
      async () => (await client.schedules.get('nightly')).lastRun,
      20_000,
      'the triggered run',
    );
    expect(await row()).toContain(last.key);
    expect((await post('/schedules', '/schedules/nope/pause')).status).toBe(404);
    expect((await post('/schedules', '/schedules/nightly/delete')).status).toBe(404);
    expect((await client.schedules.get('nightly')).state).toBe('active');
  });

  it('should list each limit with its holder and the run waiting behind it', async () => {
    await client.start('ops.gated', { key: 'first' });
    await eventually(async () => (await client.limits.get('gate')).holders.length === 1, 15_000);
    await client.start('ops.gated', { key: 'second' });
    await eventually(async () => (await client.limits.get('gate')).waiting.length === 1, 15_000);
    const html = await (await get('/limits')).text();
    const gate = /<tr data-limit="gate">[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
    expect(gate).toContain('1 at once');
    expect(gate).toContain(`#${await idOf('first')}`);
    expect(gate).toContain(`#${await idOf('second')}`);
    expect(html).toMatch(/<tr data-limit="api">[\s\S]*?3 per 1\.0s/);
    app.get(Gate).release();
    await eventually(async () => (await client.get('second')).state === 'completed', 15_000);
    const after = await (await get('/limits')).text();
    const freed = /<tr data-limit="gate">[\s\S]*?<\/tr>/.exec(after)?.[0];
    expect(freed).toContain('1 at once');
    expect(freed).not.toContain(`#${await idOf('second')}`);
  });
});

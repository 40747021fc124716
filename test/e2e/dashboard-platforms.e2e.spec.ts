import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';
import {
  bootDashboardApp,
  DemoProbe,
  type HttpPlatform,
  TOKEN,
  TOKEN_HEADER,
} from './dashboard.fixture.js';

/**
 * The dashboard over plain HTTP on both of Nest's HTTP platforms: pages with their headers and
 * CSRF cookie, a form POST (urlencoded body, CSRF check, 303 redirect) and the HTML error pages.
 */
describe.each<HttpPlatform>(['express', 'fastify'])('dashboard on %s (e2e)', (platform) => {
  const schema = uniqueName(`cf_dplat_${platform}`);
  const queueName = uniqueName(`q_dplat_${platform}`);
  let app: INestApplication;
  let base: string;
  let origin: string;

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers: { [TOKEN_HEADER]: TOKEN, ...headers }, redirect: 'manual' });

  beforeAll(async () => {
    app = await bootDashboardApp(schema, queueName, platform);
    origin = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    base = `${origin}/api/ops/cf`;
    const client = app.get(WorkflowClient);
    await client.start('demo.charge', { key: 'charge-1', input: { orderId: '1', cents: 100 } });
    await eventually(async () => (await client.get('charge-1'))?.state === 'stalled');
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should serve the overview with its security headers and a CSRF cookie', async () => {
    const res = await get('');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('set-cookie')).toMatch(
      /^cf_dashboard_csrf=[0-9a-f]{32}\.[\w-]{43}; Path=\/api\/ops\/cf; HttpOnly; SameSite=Strict$/,
    );
    const body = await res.text();
    expect(body).toContain('<h1>Overview</h1>');
    expect(body).toContain('demo.charge');
  });

  it('should retry a run from its page: urlencoded form, CSRF token, 303 back to the run', async () => {
    const [{ id }] = await sql<{ id: string }>(
      `SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = 'charge-1'`,
    );
    const page = await get(`/runs/${id}`);
    expect(page.status).toBe(200);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
    const html = await page.text();
    const token = /name="_csrf"\s+value="([^"]+)"/.exec(html)?.[1];
    expect(token).toBeTruthy();
    app.get(DemoProbe).cardDeclined = false;
    const res = await fetch(`${base}/runs/${id}/retry`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        [TOKEN_HEADER]: TOKEN,
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ _csrf: token! }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/api/ops/cf/runs/${id}?notice=retried`);
    const client = app.get(WorkflowClient);
    await eventually(async () => (await client.get('charge-1'))?.state === 'completed');
  });

  it('should answer a bad CSRF token, an unknown run and a denied request with HTML error pages', async () => {
    const cookie = ((await get('')).headers.get('set-cookie') ?? '').split(';')[0];
    const forge = (headers: Record<string, string>) =>
      fetch(`${base}/runs/1/retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          [TOKEN_HEADER]: TOKEN,
          'content-type': 'application/x-www-form-urlencoded',
          ...headers,
        },
        body: '_csrf=forged',
      });
    const forged = await forge({ cookie });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('Invalid CSRF token');
    const unsigned = await forge({ cookie: `cf_dashboard_csrf=${'a'.repeat(32)}` });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('Missing CSRF cookie');
    const missing = await get('/runs/999999999');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const denied = await fetch(`${origin}/api/chronoforge`);
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain('denies every request');
  });
});

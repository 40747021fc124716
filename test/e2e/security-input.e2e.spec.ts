import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, WorkflowClient } from '../../lib/index.js';
import { startSampleApp } from '../support/sample-app.js';
import { cleanup, uniqueName } from '../support/env.js';
import { bootDashboardApp, type HttpPlatform, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

const auth = { [TOKEN_HEADER]: TOKEN };

/**
 * Issue 26, point 6: bad input from outside answers 400 (a named ChronoForgeError mapped by the
 * dashboard's filter and the sample app's), never 500 with a stack in the log.
 */
describe.each<HttpPlatform>(['express', 'fastify'])(
  'dashboard bad input on %s (e2e)',
  (platform) => {
    const schema = uniqueName('cf_secin');
    const queueName = uniqueName('q_secin');
    let app: INestApplication;
    let base: string;

    beforeAll(async () => {
      app = await bootDashboardApp(schema, queueName, platform);
      base = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/api/ops/cf`;
      await app.get(WorkflowClient).start('demo.fanout', { key: 'fan-1', input: { lines: 1 } });
      await app.get(WorkflowClient).start('demo.waiter', { key: 'waiter-1' });
    });

    afterAll(async () => {
      await app?.close();
      await cleanup(schema, queueName);
    });

    /**
     * A page with a form (a confirmation with a run to act on: one matching no run has no button
     * to carry the token) and the cookie and CSRF token it issued, for posting a form.
     */
    async function form(): Promise<{ cookie: string; token: string }> {
      const res = await fetch(`${base}/bulk-cancel?workflow=demo.waiter`, { headers: auth });
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
      const token = /name="_csrf"\s+value="([^"]+)"/.exec(await res.text())?.[1] ?? '';
      return { cookie, token };
    }

    it.each(
      [
        '/runs?key=%00',
        '/runs?workflow=%00',
        '/runs?key=a%00b&state=idle',
        '/runs/1/branches/%00',
        '/bulk-retry?workflow=%00',
        `/bulk-retry?workflow=${'w'.repeat(1000)}`,
        '/runs?before=99999999999999999999999',
        // Paged lists (issue 26, point 5): a bad cursor or page size.
        '/runs/1?size=0',
        '/runs/1?size=501',
        '/runs/1?size=abc',
        '/runs/1?after=abc',
        '/runs/1?after=99999999999999999999',
        '/runs/1?after=1&before=2',
        '/runs/1?after=1&after=2',
        '/runs/1/errors?size=-1',
        '/runs/1/branches?before=1.5',
        '/runs/1/branches/lines?size=1000',
      ].map((path) => ({ path, shown: path.slice(0, 40) })),
    )('should answer 400 to GET $shown', async ({ path }) => {
      const res = await fetch(`${base}${path}`, { headers: auth });
      expect(res.status).toBe(400);
    });

    it.each<{ headers: Record<string, string>; shown: string }>([
      { headers: { 'sec-fetch-site': 'same-site' }, shown: 'Sec-Fetch-Site: same-site' },
      { headers: { 'sec-fetch-site': 'cross-site' }, shown: 'Sec-Fetch-Site: cross-site' },
      { headers: { origin: 'http://127.0.0.1:1' }, shown: 'an Origin of another port' },
    ])('should refuse a POST with a valid token and $shown (403)', async ({ headers }) => {
      // The cookie-tossing attack: a page on another port of the host holds a valid pair.
      const { cookie, token } = await form();
      const post = (extra: Record<string, string>) =>
        fetch(`${base}/bulk-retry`, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            ...auth,
            ...extra,
            cookie,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: `_csrf=${encodeURIComponent(token)}&workflow=demo.line`,
        });
      expect((await post(headers)).status).toBe(403);
      // The same form from the dashboard's own origin goes through (to the confirmation page).
      const same = new URL(base).origin;
      expect((await post({ 'sec-fetch-site': 'same-origin', origin: same })).status).toBe(303);
      expect((await post({ origin: same })).status).toBe(303);
    });

    it.each([
      { w: '%00', shown: 'with a NUL' },
      { w: 'w'.repeat(5000), shown: 'of 5000 characters' },
    ])('should refuse a bulk retry of a workflow name $shown with 400', async ({ w }) => {
      const { cookie, token } = await form();
      expect(token).not.toBe('');
      const res = await fetch(`${base}/bulk-retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...auth, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: `_csrf=${encodeURIComponent(token)}&confirm=yes&workflow=${w}`,
      });
      expect(res.status).toBe(400);
    });
  },
);

describe('sample app bad input (e2e)', () => {
  const schema = uniqueName('cf_secsa');
  const queueName = uniqueName('q_secsa');
  let app: INestApplication;
  let origin: string;

  beforeAll(async () => {
    ({ app, origin } = await startSampleApp({ schema, queueName }));
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  const post = (path: string, body: string) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  it('should answer 400 to GET /orders?before= beyond a run id', async () => {
    const res = await fetch(`${origin}/orders?before=99999999999999999999999`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe(new InvalidOptionsError('').code);
  });

  it('should answer 400 to a JSON body nested deeper than 1000 levels', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    for (const path of ['/orders', '/orders/no-such/signals/delivered']) {
      const res = await post(path, `{"receivedBy":"x","note":${deep},"orderId":${deep}}`);
      expect(res.status).toBe(400);
    }
  });

  it('should answer 400 to a signal note holding a NUL character', async () => {
    const res = await post(
      '/orders/no-such-order/signals/delivered',
      JSON.stringify({ receivedBy: 'Ada', note: 'left at\u0000door' }),
    );
    expect(res.status).toBe(400);
  });
});

describe('client.list bounds (e2e)', () => {
  it('should refuse a before beyond a bigint and over-long filters with InvalidOptionsError', async () => {
    const schema = uniqueName('cf_seccl');
    const queueName = uniqueName('q_seccl');
    const app = await bootDashboardApp(schema, queueName);
    try {
      const client = app.get(WorkflowClient);
      await expect(client.list({ before: '99999999999999999999999' })).rejects.toBeInstanceOf(
        InvalidOptionsError,
      );
      await expect(client.list({ workflow: 'w'.repeat(5000) })).rejects.toBeInstanceOf(
        InvalidOptionsError,
      );
      await expect(client.list({ keyPrefix: 'k'.repeat(5000) })).rejects.toBeInstanceOf(
        InvalidOptionsError,
      );
    } finally {
      await app.close();
      await cleanup(schema, queueName);
    }
  });
});

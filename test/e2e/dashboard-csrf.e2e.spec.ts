import type { INestApplication } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { cleanup, uniqueName } from '../support/env.js';
import {
  bootDashboardApp,
  type HttpPlatform,
  TOKEN,
  TOKEN_HEADER,
  TokenGuard,
} from './dashboard.fixture.js';

const auth = { [TOKEN_HEADER]: TOKEN };
/** A signed nonce cookie value: `<32 hex>.<HMAC-SHA256 base64url>`. */
const SIGNED = '[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}';

/** What a dashboard page hands a browser: its Set-Cookie headers and the form's CSRF token. */
interface Issued {
  setCookies: string[];
  /** `name=value` of the CSRF cookie the page set ('' when it set none). */
  cookie: string;
  token: string;
}

async function page(url: string, headers: Record<string, string> = {}): Promise<Issued> {
  const res = await fetch(url, { headers: { ...auth, ...headers } });
  expect(res.status).toBe(200);
  const setCookies = res.headers.getSetCookie();
  const csrf = setCookies.find((c) => c.includes('cf_dashboard_csrf=')) ?? '';
  const token = /name="_csrf"\s+value="([^"]+)"/.exec(await res.text())?.[1] ?? '';
  return { setCookies, cookie: csrf.split(';')[0], token };
}

/** Posts the bulk-retry form (without `confirm`, so it only redirects to the confirmation page). */
function post(url: string, token: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ _csrf: token, workflow: 'demo.line' }).toString(),
  });
}

/** Adds an application cookie to every response before the dashboard sets its own. */
function appCookie(platform: HttpPlatform) {
  return (app: INestApplication) => {
    if (platform === 'express') {
      app.use((_req: IncomingMessage, res: ServerResponse, next: () => void) => {
        res.setHeader('Set-Cookie', 'app_session=1; Path=/');
        next();
      });
    } else {
      const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
      fastify.addHook('onRequest', (_req, reply, done) => {
        reply.header('set-cookie', 'app_session=1; Path=/');
        done();
      });
    }
  };
}

/** Issue 26, point 2: CSRF tokens bound to a server-issued, signed nonce; cookie rules. */
describe.each<HttpPlatform>(['express', 'fastify'])('dashboard CSRF on %s (e2e)', (platform) => {
  const schema = uniqueName(`cf_dcsrf_${platform}`);
  const queueName = uniqueName(`q_dcsrf_${platform}`);
  const proxied = { schema: uniqueName(`cf_dcsrfp_${platform}`), queue: uniqueName('q_dcsrfp') };
  let app: INestApplication;
  let proxyApp: INestApplication;
  let base: string;
  let bound: string;
  let proxyBase: string;

  const urlOf = async (a: INestApplication) =>
    (await a.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');

  beforeAll(async () => {
    const csrfSubject = (req: { headers: Record<string, unknown> }) =>
      typeof req.headers['x-user'] === 'string' ? req.headers['x-user'] : undefined;
    app = await bootDashboardApp(schema, queueName, platform, {
      extra: [{ path: '/bound', guard: TokenGuard, csrfSubject }],
    });
    proxyApp = await bootDashboardApp(proxied.schema, proxied.queue, platform, {
      trustProxy: true,
      configure: appCookie(platform),
    });
    base = `${await urlOf(app)}/api/ops/cf`;
    bound = `${await urlOf(app)}/api/bound`;
    proxyBase = `${await urlOf(proxyApp)}/api/ops/cf`;
    // A run to cancel, so the confirmation pages have a form carrying the token (a bulk
    // confirmation matching no run has none).
    for (const a of [app, proxyApp])
      await a.get(WorkflowClient).start('demo.waiter', { key: 'waiter-1' });
  });

  afterAll(async () => {
    await app?.close();
    await proxyApp?.close();
    await cleanup(schema, queueName);
    await cleanup(proxied.schema, proxied.queue);
  });

  it('should set a signed, path-scoped, HttpOnly, SameSite=Strict nonce cookie over HTTP', async () => {
    const { setCookies, cookie, token } = await page(`${base}/bulk-cancel?workflow=demo.waiter`);
    expect(setCookies).toHaveLength(1);
    expect(setCookies[0]).toMatch(
      new RegExp(`^cf_dashboard_csrf=${SIGNED}; Path=/api/ops/cf; HttpOnly; SameSite=Strict$`),
    );
    expect((await post(`${base}/bulk-retry`, token, { cookie })).status).toBe(303);
  });

  it('should issue no token for a nonce the client chose, and refuse a POST with it', async () => {
    const tossed = `cf_dashboard_csrf=${'ab'.repeat(16)}`;
    const minted = await page(`${base}/bulk-cancel?workflow=demo.waiter`, { cookie: tossed });
    // The tossed value is ignored: the server sets a nonce of its own for the token it issues.
    expect(minted.cookie).toMatch(new RegExp(`^cf_dashboard_csrf=${SIGNED}$`));
    expect(minted.cookie).not.toBe(tossed);
    const res = await post(`${base}/bulk-retry`, minted.token, { cookie: tossed });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Missing CSRF cookie');
    // A forged signature over the same nonce is ignored as well.
    const forged = `${tossed}.${'A'.repeat(43)}`;
    expect((await post(`${base}/bulk-retry`, minted.token, { cookie: forged })).status).toBe(403);
  });

  it('should keep the browser own cookie when a tossed unsigned one arrives beside it', async () => {
    const own = await page(`${base}/bulk-cancel?workflow=demo.waiter`);
    const tossed = `cf_dashboard_csrf=${'cd'.repeat(16)}`;
    for (const cookie of [`${own.cookie}; ${tossed}`, `${tossed}; ${own.cookie}`]) {
      const again = await page(`${base}/bulk-cancel?workflow=demo.waiter`, { cookie });
      expect(again.setCookies).toEqual([]); // no new cookie: the signed one is used
      expect(again.token).toBe(own.token);
      expect((await post(`${base}/bulk-retry`, own.token, { cookie })).status).toBe(303);
    }
  });

  it('should refuse a POST carrying two different signed CSRF cookies', async () => {
    const victim = await page(`${base}/bulk-cancel?workflow=demo.waiter`);
    const attacker = await page(`${base}/bulk-cancel?workflow=demo.waiter`);
    expect(attacker.cookie).not.toBe(victim.cookie);
    for (const cookie of [
      `${victim.cookie}; ${attacker.cookie}`,
      `${attacker.cookie}; ${victim.cookie}`,
    ]) {
      for (const token of [attacker.token, victim.token]) {
        const res = await post(`${base}/bulk-retry`, token, { cookie });
        expect(res.status).toBe(403);
        expect(await res.text()).toContain('Two different CSRF cookies');
      }
    }
  });

  it('should bind tokens to csrfSubject: a token minted for one user fails for another', async () => {
    const ada = await page(`${bound}/bulk-cancel?workflow=demo.waiter`, { 'x-user': 'ada' });
    const eve = await page(`${bound}/bulk-cancel?workflow=demo.waiter`, {
      'x-user': 'eve',
      cookie: ada.cookie,
    });
    expect(eve.setCookies).toEqual([]);
    expect(eve.token).not.toBe(ada.token);
    const as = (user: string, token: string) =>
      post(`${bound}/bulk-retry`, token, { cookie: ada.cookie, 'x-user': user });
    expect((await as('eve', ada.token)).status).toBe(403);
    expect((await as('ada', eve.token)).status).toBe(403);
    expect((await as('ada', ada.token)).status).toBe(303);
  });

  it('should ignore X-Forwarded-Proto unless the app trusts its proxy', async () => {
    const { setCookies } = await page(`${base}/bulk-cancel?workflow=demo.waiter`, {
      'x-forwarded-proto': 'https',
    });
    expect(setCookies[0]).toMatch(/^cf_dashboard_csrf=/);
    expect(setCookies[0]).not.toContain('Secure');
  });

  it('should use a __Host- Secure cookie behind a trusted TLS proxy, keeping app cookies', async () => {
    const tls = { 'x-forwarded-proto': 'https' };
    const issued = await page(`${proxyBase}/bulk-cancel?workflow=demo.waiter`, tls);
    expect(issued.setCookies).toContain('app_session=1; Path=/');
    const csrf = issued.setCookies.find((c) => c.includes('cf_dashboard_csrf'));
    expect(csrf).toMatch(
      new RegExp(`^__Host-cf_dashboard_csrf=${SIGNED}; Path=/; HttpOnly; SameSite=Strict; Secure$`),
    );
    const ok = await post(`${proxyBase}/bulk-retry`, issued.token, {
      ...tls,
      cookie: issued.cookie,
    });
    expect(ok.status).toBe(303);
    // Under TLS only the __Host- cookie counts: the same signed value under the plain name (which
    // a plain-HTTP page of the host could set) is not taken.
    const plain = issued.cookie.replace('__Host-', '');
    const refused = await post(`${proxyBase}/bulk-retry`, issued.token, { ...tls, cookie: plain });
    expect(refused.status).toBe(403);
    // Over plain HTTP (no forwarded proto) the same app sets the plain, path-scoped cookie.
    const http = await page(`${proxyBase}/bulk-cancel?workflow=demo.waiter`);
    expect(http.setCookies.find((c) => c.includes('csrf'))).toMatch(
      /^cf_dashboard_csrf=.*; Path=\/api\/ops\/cf; HttpOnly; SameSite=Strict$/,
    );
  });
});

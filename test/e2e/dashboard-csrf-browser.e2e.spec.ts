import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { sql, uniqueName } from '../support/env.js';
import { type AttackMode, type CsrfAttacker, startCsrfAttacker } from './csrf-attacker.js';
import { type DashboardSession, hasChromium, openDashboard } from './dashboard-browser.js';
import { TOKEN, TOKEN_HEADER, ViewerGuard } from './dashboard.fixture.js';

/** The operator's ambient authority: every request of their browser carries it. */
const OPERATOR = { [TOKEN_HEADER]: TOKEN };

/**
 * Issue 26, point 2, replayed in Chromium: a page on another port of the dashboard's host tosses
 * a CSRF cookie (`Path=/`), mints a token for it by fetching the dashboard as a viewer (the
 * `/viewer` mounts let anyone read and only the operator act) and auto-submits a cancel from the
 * operator's browser. Chromium marks that POST `Sec-Fetch-Site: same-site`, which is refused on
 * its own; the "browser without fetch metadata" cases take `Origin` and `Sec-Fetch-*` off the
 * dashboard's requests (as an older browser or a stripping proxy would) so that only the token's
 * binding to the server-issued nonce stands between the attacker and the run.
 */
describe.skipIf(!hasChromium)('dashboard CSRF cookie tossing in Chromium (e2e)', () => {
  const schema = uniqueName('cf_dcsrfb');
  let s: DashboardSession;
  let client: WorkflowClient;
  let attacker: CsrfAttacker;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    s = await openDashboard(schema, uniqueName('q_dcsrfb'), {
      extra: [
        { path: '/viewer', guard: ViewerGuard },
        {
          path: '/viewer-bound',
          guard: ViewerGuard,
          csrfSubject: (req) => (req.headers[TOKEN_HEADER] === TOKEN ? 'operator' : undefined),
        },
      ],
    });
    client = s.app.get(WorkflowClient);
    attacker = await startCsrfAttacker(s.origin);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await attacker?.close();
    await s?.close();
  });

  /** An idle run waiting for a signal, and its id. */
  async function idleRun(key: string): Promise<string> {
    await client.start('demo.waiter', { key });
    await s.until(key, 'idle');
    const [{ id }] = await sql<{ id: string }>(
      `SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
      [key],
    );
    return id;
  }

  /** The operator's browser; `legacy` sends no `Origin` and no `Sec-Fetch-*` to the dashboard. */
  async function operatorPage(legacy: boolean): Promise<Page> {
    const context = await s.browser.newContext({ extraHTTPHeaders: OPERATOR });
    contexts.push(context);
    if (legacy) {
      await context.route(`${s.origin}/**`, async (route) => {
        const headers = await route.request().allHeaders();
        for (const name of Object.keys(headers))
          if (name === 'origin' || name.startsWith('sec-fetch-')) delete headers[name];
        await route.fulfill({ response: await route.fetch({ headers, maxRedirects: 0 }) });
      });
    }
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    return page;
  }

  /** Opens the attacker's page and returns the dashboard's answer to the auto-submitted cancel. */
  async function attack(page: Page, mount: string, runId: string, mode: AttackMode) {
    const posted = page.waitForResponse(
      (r: Response) => r.request().method() === 'POST' && r.url().endsWith(`/${runId}/cancel`),
    );
    await page.goto(attacker.url(mount, runId, mode));
    const res = await posted;
    const status = res.status();
    return { status, text: status >= 300 && status < 400 ? '' : await res.text() };
  }

  const stateOf = async (key: string) => (await client.get(key))?.state;

  it('should refuse the attack by Sec-Fetch-Site in Chromium, and the operator can still cancel', async () => {
    const id = await idleRun('toss-fetch-metadata');
    const page = await operatorPage(false);
    await page.goto(`${s.origin}/api/viewer/runs/${id}`);
    const res = await attack(page, 'viewer', id, 'own');
    expect(res.status).toBe(403);
    expect(res.text).toContain('Sec-Fetch-Site: same-site');
    expect(await stateOf('toss-fetch-metadata')).toBe('idle');
    // The legitimate flow, with the tossed cookie still in the browser.
    await page.goto(`${s.origin}/api/viewer/runs/${id}`);
    await page.click('a:text("Cancel…")');
    await Promise.all([
      page.waitForURL(/notice=cancelled/),
      page.click('button:text("Cancel run")'),
    ]);
    expect(await page.locator('h1 .badge').textContent()).toBe('cancelled');
  });

  it('should refuse a token minted for a nonce the attacker chose (browser without fetch metadata)', async () => {
    // Before the binding, the server issued a token for any nonce a client sent and took the
    // last of two same-named cookies: both runs below were cancelled (303).
    for (const visitedFirst of [true, false]) {
      const key = `toss-own-${visitedFirst ? 'visited' : 'fresh'}`;
      const id = await idleRun(key);
      const page = await operatorPage(true);
      if (visitedFirst) await page.goto(`${s.origin}/api/viewer/runs/${id}`);
      const res = await attack(page, 'viewer', id, 'own');
      expect(res.status, key).toBe(403);
      expect(await stateOf(key)).toBe('idle');
      // The tossed (unsigned) cookie is ignored: the operator's own form still works.
      await page.goto(`${s.origin}/api/viewer/runs/${id}/confirm/cancel`);
      await Promise.all([
        page.waitForURL(/notice=cancelled/),
        page.click('button:text("Cancel run")'),
      ]);
      expect(await stateOf(key)).toBe('cancelled');
    }
  });

  it('should refuse a tossed server-issued cookie beside the operator own one (two cookies)', async () => {
    const id = await idleRun('toss-issued-visited');
    const page = await operatorPage(true);
    await page.goto(`${s.origin}/api/viewer/runs/${id}`);
    const res = await attack(page, 'viewer', id, 'issued');
    expect(res.status).toBe(403);
    expect(res.text).toContain('Two different CSRF cookies');
    expect(await stateOf('toss-issued-visited')).toBe('idle');
  });

  it('should refuse a viewer-minted pair for the operator when csrfSubject binds tokens', async () => {
    const id = await idleRun('toss-issued-bound');
    const page = await operatorPage(true);
    const res = await attack(page, 'viewer-bound', id, 'issued');
    expect(res.status).toBe(403);
    expect(res.text).toContain('Invalid CSRF token');
    expect(await stateOf('toss-issued-bound')).toBe('idle');
    await page.goto(`${s.origin}/api/viewer-bound/runs/${id}/confirm/cancel`);
    await Promise.all([
      page.waitForURL(/notice=cancelled/),
      page.click('button:text("Cancel run")'),
    ]);
    expect(await stateOf('toss-issued-bound')).toBe('cancelled');
  });
});

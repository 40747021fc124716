import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, uniqueName } from '../support/env.js';
import { type DashboardSession, hasChromium, openDashboard } from './dashboard-browser.js';
import { DemoProbe, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/** The dashboard's actions in Chromium: stranded runs, unlock, cancel, bulk retry, CSRF, access. */
describe.skipIf(!hasChromium)('dashboard actions in Chromium (e2e)', () => {
  const schema = uniqueName('cf_dact');
  let s: DashboardSession;
  let page: DashboardSession['page'];
  let base: string;
  const badge = () => s.badge();
  const shot = (name: string) => s.shot(name);

  beforeAll(async () => {
    s = await openDashboard(schema, uniqueName('q_dact'));
    ({ page, base } = s);
    await s.client.start('demo.waiter', { key: 'waiter-1005' });
    for (const key of ['charge-2001', 'charge-2002']) {
      await s.client.start('demo.charge', { key, input: { orderId: key, cents: 100 } });
    }
    await Promise.all([
      s.until('waiter-1005', 'idle'),
      s.until('charge-2001', 'stalled'),
      s.until('charge-2002', 'stalled'),
    ]);
    // A run idle without a timer for two hours is listed as stranded.
    await sql(`UPDATE "${schema}".chrono_forge_workflows SET updated_at = now() - interval '2 hours'
      WHERE key = 'waiter-1005'`);
  });

  afterAll(() => s?.close());

  it('should list stranded runs, then unlock and cancel one after confirming', async () => {
    await page.goto(`${base}/stranded`);
    expect(await page.locator('table.runs').textContent()).toContain('waiting without timer');
    await shot('stranded');
    await page.click('table.runs a:text-is("waiter-1005")');
    await page.click('a:text("Unlock…")');
    expect(await page.locator('h1').textContent()).toBe('Unlock run');
    await shot('confirm');
    await Promise.all([page.waitForURL(/notice=unlocked/), page.click('button:text("Unlock")')]);
    expect(await page.locator('.notice').textContent()).toContain('Lock cleared');
    await page.click('a:text("Cancel…")');
    await Promise.all([
      page.waitForURL(/notice=cancelled/),
      page.click('button:text("Cancel run")'),
    ]);
    expect(await badge()).toBe('cancelled');
  });

  it('should bulk-retry the stalled runs of a workflow after confirming', async () => {
    s.app.get(DemoProbe).cardDeclined = false;
    await page.goto(base);
    await page.click('a:text("Retry 2…")');
    expect(await page.locator('h1').textContent()).toBe('Bulk retry');
    await s.shot('bulk-retry');
    await Promise.all([
      page.waitForURL(/notice=bulk/),
      page.click('button:text("Retry 2 run(s)")'),
    ]);
    expect(await page.locator('.notice').textContent()).toContain('2 run(s) retried');
    await Promise.all([s.until('charge-2001', 'completed'), s.until('charge-2002', 'completed')]);
  });

  it('should reject a POST without a valid CSRF token', async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${base}/runs/1/retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          [TOKEN_HEADER]: TOKEN,
          'content-type': 'application/x-www-form-urlencoded',
          ...headers,
        },
        body,
      });
    const missing = await post({}, 'confirm=yes');
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('CSRF');
    const forged = await post({ cookie: `cf_dashboard_csrf=${'a'.repeat(32)}` }, '_csrf=forged');
    expect(forged.status).toBe(403);
  });

  it('should deny access without the guard allowing it, and by default without a guard', async () => {
    const stranger = await s.browser.newContext();
    const strangerPage = await stranger.newPage();
    const denied = await strangerPage.goto(base);
    expect(denied?.status()).toBe(403);
    expect(await strangerPage.locator('h1').textContent()).toContain('403');
    await stranger.close();
    const unguarded = await page.goto(`${s.origin}/api/chronoforge`);
    expect(unguarded?.status()).toBe(403);
    await s.shot('denied', false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, uniqueName } from '../support/env.js';
import { type DashboardSession, hasChromium, openDashboard } from './dashboard-browser.js';
import { DemoProbe, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';
import { Gate, WaitingWorkflows } from './dashboard-analytics.fixture.js';

const EVIL = '<img src=x id=pwned>';

/** The analytics page in Chromium: charts and their numbers, durations, errors, waits, refresh. */
describe.skipIf(!hasChromium)('dashboard analytics in Chromium (e2e)', () => {
  const schema = uniqueName('cf_dstat');
  let s: DashboardSession;
  let page: DashboardSession['page'];
  let base: string;

  beforeAll(async () => {
    s = await openDashboard(schema, uniqueName('q_dstat'), {
      providers: [Gate, WaitingWorkflows],
    });
    ({ page, base } = s);
    for (const key of ['ship-1', 'ship-2', 'ship-3'])
      await s.client.start('demo.ship', { key, input: { orderId: key } });
    await s.client.start('demo.charge', { key: 'charge-x', input: { orderId: EVIL, cents: 1 } });
    await s.client.start('demo.waiter', { key: 'waiter-1' });
    await s.client.start('stats.nap', { key: 'nap-1' });
    await s.client.start('stats.locker', { key: 'locker-1' });
    await s.client.start('stats.limited', { key: 'limited-1' });
    await s.until('locker-1', 'running');
    await s.until('limited-1', 'running');
    await s.client.start('stats.locker', { key: 'locker-2' });
    await s.client.start('stats.limited', { key: 'limited-2' });
    await Promise.all([
      ...['ship-1', 'ship-2', 'ship-3'].map((k) => s.until(k, 'completed')),
      s.until('charge-x', 'stalled'),
      s.until('waiter-1', 'idle'),
      s.until('nap-1', 'idle'),
      eventually(async () => (await s.client.get('locker-2')).waitingOn.length > 0),
      eventually(async () => (await s.client.get('limited-2')).waitingOn.length > 0),
    ]);
  });

  afterAll(async () => {
    s?.app.get(Gate).release();
    await s?.close();
  });

  it('should chart runs started, completed and failed per workflow with the numbers in a table', async () => {
    await page.goto(`${base}/analytics?range=1h`);
    expect(await page.locator('h1').textContent()).toBe('Analytics');
    const ship = page.locator('section.workflow-chart[data-workflow="demo.ship"]');
    const svg = ship.locator('svg.chart');
    await expect.poll(() => svg.count()).toBe(1);
    expect(await svg.getAttribute('role')).toBe('img');
    expect(await svg.locator('title').first().textContent()).toContain('demo.ship');
    const desc = await svg.locator('desc').textContent();
    expect(desc).toContain('3 started, 3 completed, 0 failed');
    expect(desc).toContain('5-minute bucket');
    const box = await svg.boundingBox();
    expect(box?.width).toBeGreaterThan(300);
    const row = (name: string) => ship.locator(`table.chart-data tr[data-series="${name}"] td b`);
    expect(await row('started').textContent()).toBe('3');
    expect(await row('completed').textContent()).toBe('3');
    const points = await svg.locator('g[data-series="started"] circle').count();
    expect(points).toBe((await ship.locator('table.chart-data thead th').count()) - 2);
    await s.shot('analytics');
  });

  it('should show durations, escaped top errors and runs waiting per reason', async () => {
    await page.goto(`${base}/analytics?range=24h`);
    const ship = page.locator('table.durations tr[data-workflow="demo.ship"] td');
    expect(await ship.nth(1).textContent()).toBe('3');
    const p50 = Number(await ship.nth(2).getAttribute('data-ms'));
    const p95 = Number(await ship.nth(3).getAttribute('data-ms'));
    expect(p50).toBeGreaterThanOrEqual(50); // each run sleeps 50 ms
    expect(p95).toBeGreaterThanOrEqual(p50);
    const errors = await page.locator('table.top-errors').textContent();
    expect(errors).toContain(`Card declined for ${EVIL}`);
    expect(await page.locator('#pwned').count()).toBe(0);
    const waiting = (workflow: string, reason: string) =>
      page
        .locator(`table.waiting tr[data-workflow="${workflow}"] td[data-reason="${reason}"]`)
        .textContent();
    expect(await waiting('demo.waiter', 'signal')).toBe('1');
    expect(await waiting('stats.nap', 'timer')).toBe('1');
    expect(await waiting('stats.locker', 'lock')).toBe('1');
    expect(await waiting('stats.limited', 'limit')).toBe('1');
    await page.selectOption('select[name="workflow"]', 'stats.nap');
    await Promise.all([page.waitForURL(/workflow=stats.nap/), page.click('button:text("Show")')]);
    expect(await page.locator('table.waiting tbody tr').count()).toBe(1);
    expect(await page.locator('section.workflow-chart').count()).toBe(1);
  });

  it('should reload the page on its own once auto-refresh is on, and stop when off', async () => {
    await page.goto(`${base}/analytics?range=1h`);
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
    await Promise.all([page.waitForURL(/refresh=5/), page.click('a[data-refresh="5"]')]);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('5');
    expect(await page.locator('a[data-refresh="5"]').getAttribute('aria-current')).toBe('true');
    const csp = (
      await page.request.get(page.url(), { headers: { [TOKEN_HEADER]: TOKEN } })
    ).headers()['content-security-policy'];
    expect(csp).toContain("default-src 'none'"); // no script needed, none allowed
    // A new run shows up without any action of ours: the page reloaded itself.
    await s.client.start('demo.ship', { key: 'ship-4', input: { orderId: 'ship-4' } });
    await page.waitForEvent('load', { timeout: 12_000 });
    const started = page.locator(
      'section[data-workflow="demo.ship"] table.chart-data tr[data-series="started"] td b',
    );
    expect(await started.textContent()).toBe('4');
    await Promise.all([page.waitForURL(/range=1h$/), page.click('a[data-refresh="off"]')]);
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
    // The overview and the runs list offer it too; the runs filter keeps it.
    await page.goto(base);
    await Promise.all([page.waitForURL(/refresh=30/), page.click('a[data-refresh="30"]')]);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('30');
    await page.goto(`${base}/runs?refresh=10`);
    await page.selectOption('select[name="workflow"]', 'demo.ship');
    await Promise.all([page.waitForURL(/workflow=demo.ship/), page.click('button:text("Filter")')]);
    expect(page.url()).toContain('refresh=10');
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('10');
  });

  it('should answer 400 to an unknown range or refresh interval', async () => {
    for (const q of ['range=2d', 'range=%3Cb%3E', 'refresh=1', 'refresh=05']) {
      const res = await fetch(`${base}/analytics?${q}`, { headers: { [TOKEN_HEADER]: TOKEN } });
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain('<b>');
    }
    expect(s.app.get(DemoProbe).cardDeclined).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/env.js';
import { type DashboardSession, hasChromium, openDashboard } from './dashboard-browser.js';
import { DemoProbe } from './dashboard.fixture.js';

/** The dashboard's views in Chromium: list → detail → branch, retry from the UI, repeats. */
describe.skipIf(!hasChromium)('dashboard views in Chromium (e2e)', () => {
  let s: DashboardSession;
  let page: DashboardSession['page'];
  let base: string;
  const badge = () => s.badge();
  const shot = (name: string) => s.shot(name);

  beforeAll(async () => {
    s = await openDashboard(uniqueName('cf_dash'), uniqueName('q_dash'));
    ({ page, base } = s);
    const { client } = s;
    await client.start('demo.ship', { key: 'order-1001', input: { orderId: '1001' } });
    await client.start('demo.charge', {
      key: 'charge-1002',
      input: { orderId: '1002', cents: 4200 },
    });
    await client.start('demo.fanout', { key: 'fan-1003', input: { lines: 3 } });
    await client.start('demo.remind', { key: 'remind-1004' });
    await client.start('demo.line', { key: '<script>alert(1)</script>', input: { n: 9 } });
    await Promise.all([
      s.until('order-1001', 'completed'),
      s.until('charge-1002', 'stalled'),
      s.until('fan-1003', 'completed'),
      s.until('remind-1004', 'completed'),
    ]);
  });

  afterAll(() => s?.close());

  it('should show the overview, filter the runs list and open a run', async () => {
    await page.goto(base);
    expect(await page.locator('h1').textContent()).toBe('Overview');
    expect(await page.locator('table').first().textContent()).toContain('demo.charge');
    await shot('overview');
    await page.click('header >> text=Runs');
    expect(await page.locator('table.runs tbody tr').count()).toBe(5); // pageSize 5 of 8 runs
    await page.click('a[rel=next]');
    expect(page.url()).toMatch(/before=\d+/);
    expect(await page.locator('table.runs tbody tr').count()).toBe(3);
    // Keys are text, never markup.
    await page.goto(`${base}/runs?key=${encodeURIComponent('<script>')}`);
    expect(await page.locator('table.runs a:text-is("<script>alert(1)</script>")').count()).toBe(1);
    expect(await page.locator('script').count()).toBe(0);
    await page.goto(`${base}/runs`);
    await page.selectOption('select[name=workflow]', 'demo.charge');
    await page.click('form.filters button');
    expect(await page.locator('table.runs tbody tr').count()).toBe(1);
    await shot('runs');
    await page.click('table.runs a:text-is("charge-1002")');
    expect(await page.locator('h1').textContent()).toContain('demo.charge');
    expect(await badge()).toBe('stalled');
    expect(await page.locator('table.errors').textContent()).toContain('Card declined for 1002');
    expect(await page.locator('table.errors details pre').first().textContent()).toContain('at ');
  });

  it('should retry a stalled run from its page and see it complete', async () => {
    s.app.get(DemoProbe).cardDeclined = false;
    await page.goto(`${base}/runs?key=charge-1002`);
    await page.click('table.runs a:text-is("charge-1002")');
    await Promise.all([page.waitForURL(/notice=retried/), page.click('button:text("Retry")')]);
    expect(await page.locator('.notice').textContent()).toContain('Retry requested');
    await expect
      .poll(async () => (await page.reload(), badge()), { timeout: 15_000 })
      .toBe('completed');
    expect(await page.locator('table.steps').textContent()).toContain('step$charge');
    expect(await page.locator('dl.kv').textContent()).toContain('Run id');
    await shot('run');
  });

  it('should drill down from a parent run to its branch, a child and back', async () => {
    await page.goto(`${base}/runs?key=fan-1003`);
    await page.click('table.runs a:text-is("fan-1003")');
    expect(await page.locator('table.branches').textContent()).toContain('3');
    await page.click('table.branches >> a:text("lines")');
    expect(await page.locator('h1').textContent()).toContain('lines');
    expect(await page.locator('table.children tbody tr').count()).toBe(3);
    expect(await page.textContent('main')).toMatch(/merge\$lines\s+completed/); // polled or merged inline
    await shot('branch');
    await page.click('.cards >> text=completed');
    expect(page.url()).toContain('state=completed');
    await page.click('table.children a:text-is("fan-1003$demo.fanout$lines$line_0")');
    expect(await page.locator('nav.crumbs').textContent()).toContain('branch lines');
    await page.click('nav.crumbs >> text=demo.fanout fan-1003');
    expect(await page.locator('h1').textContent()).toContain('fan-1003');
  });

  it('should show repeat ticks with the fast-forward summary, waits and durable state', async () => {
    await page.goto(`${base}/runs?key=remind-1004`);
    await page.click('table.runs a:text-is("remind-1004")');
    expect(await page.locator('table.ticks').textContent()).toMatch(
      /Fast-forwarded \d+ expired tick/,
    );
    expect(await page.locator('table.waits').textContent()).toContain('wait_until$ready');
    await shot('repeat');
    await page.goto(`${base}/runs?key=order-1001`);
    await page.click('table.runs a:text-is("order-1001")');
    expect(await page.textContent('main')).toContain('"shipping"');
    expect(await page.locator('table.waits').textContent()).toContain('wait$coolOff');
  });
});

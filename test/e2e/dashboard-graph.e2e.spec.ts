import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/env.js';
import { type DashboardSession, hasChromium, openDashboard } from './dashboard-browser.js';
import { DemoProbe, TOKEN, TOKEN_HEADER, ViewerGuard } from './dashboard.fixture.js';

/** The definition graph and bulk cancel in Chromium, and bulk cancel's guard and CSRF checks. */
describe.skipIf(!hasChromium)(
  'dashboard definition graph and bulk cancel in Chromium (e2e)',
  () => {
    const schema = uniqueName('cf_dgraph');
    let s: DashboardSession;
    let page: DashboardSession['page'];
    let base: string;
    const waiters = ['bc-1', 'bc-2', 'bc-3', 'keep-1'];
    const charges = ['rt-1', 'rt-2', 'hold-1'];

    beforeAll(async () => {
      s = await openDashboard(schema, uniqueName('q_dgraph'), {
        extra: [{ path: '/viewer', guard: ViewerGuard }],
      });
      ({ page, base } = s);
      await s.client.start('demo.ship', { key: 'ship-1', input: { orderId: 'ship-1' } });
      await s.client.start('demo.fanout', { key: 'fan-1', input: { lines: 3 } });
      for (const key of waiters) await s.client.start('demo.waiter', { key });
      for (const key of charges)
        await s.client.start('demo.charge', { key, input: { orderId: key, cents: 1 } });
      await Promise.all([
        s.until('ship-1', 'completed'),
        s.until('fan-1', 'completed'),
        ...waiters.map((k) => s.until(k, 'idle')),
        ...charges.map((k) => s.until(k, 'stalled')),
      ]);
    });

    afterAll(() => s?.close());

    it('should draw the path of a workflow and list its declared methods, linked from its runs', async () => {
      await page.goto(`${base}/runs?workflow=demo.ship`);
      await page.click('a:text("Definition graph of demo.ship")');
      expect(await page.locator('h1').textContent()).toBe('Workflow demo.ship');
      const svg = page.locator('svg.graph');
      expect(await svg.getAttribute('role')).toBe('img');
      expect(await svg.locator('> title').textContent()).toBe('Definition graph of demo.ship');
      const nodes = svg.locator('g.node');
      const seen = await nodes.evaluateAll((gs) =>
        gs.map((g) => `${g.getAttribute('data-kind')} ${g.getAttribute('data-name')}`),
      );
      expect(seen).toEqual(['step reserve', 'sleep coolOff', 'step ship']);
      expect(await svg.locator('desc').textContent()).toContain(
        'step reserve → sleep coolOff → step ship',
      );
      // Drawn top to bottom, each box below the previous one.
      const ys = await nodes.evaluateAll((gs) =>
        gs.map((g) => Number(g.querySelector('rect')?.getAttribute('y'))),
      );
      expect(ys).toEqual([...ys].sort((a, b) => a - b));
      expect((await svg.boundingBox())?.height).toBeGreaterThan(150);
      expect(await page.locator('ol.graph-path li').count()).toBe(3);
      expect(await page.locator('ul.declared').textContent()).toContain('DemoWorkflows#ship');
      // The class's @Branch belongs to demo.fanout's path, not to this one.
      expect(await page.locator('li[data-declared="branch"] [data-used]').count()).toBe(0);
      await s.shot('graph');
    });

    it('should show branches fanning out and the declared @Branch of a workflow', async () => {
      const fan = await s.client.get('fan-1');
      await page.goto(`${base}/runs/${fan.id}`);
      await page.click('dl.kv a:text("definition graph")');
      expect(page.url()).toBe(`${base}/workflows/demo.fanout`);
      const branch = page.locator('svg.graph g.node[data-kind="branch"][data-name="lines"]');
      expect(await branch.locator('g.fan line').count()).toBe(3);
      expect(await page.locator('svg.graph g.node[data-kind="merge"]').count()).toBe(1);
      expect(await page.locator('li[data-declared="branch"]').textContent()).toContain('lines');
      expect(await page.locator('li[data-declared="branch"] [data-used]').count()).toBe(1);
    });

    it('should answer 404 for an unknown workflow and escape its name', async () => {
      const res = await fetch(`${base}/workflows/${encodeURIComponent('<b>nope</b>')}`, {
        headers: { [TOKEN_HEADER]: TOKEN },
      });
      expect(res.status).toBe(404);
      const body = await res.text();
      expect(body).toContain('&lt;b&gt;nope&lt;/b&gt;');
      expect(body).not.toContain('<b>nope');
    });

    it('should cancel exactly the runs the filter matches after a confirmation stating their count', async () => {
      await page.goto(`${base}/runs?workflow=demo.waiter`);
      await page.click('a:text("Cancel the matching active runs…")');
      expect(await page.locator('h1').textContent()).toBe('Bulk cancel');
      expect(await page.locator('.notice b.count').textContent()).toBe('4');
      await page.goto(`${base}/runs?workflow=demo.waiter&key=bc-`);
      await page.click('a:text("Cancel the matching active runs…")');
      expect(await page.locator('.notice b.count').textContent()).toBe('3');
      expect(await page.locator('.notice').textContent()).toContain('key starting with bc-');
      await s.shot('bulk-cancel');
      await Promise.all([
        page.waitForURL(/notice=bulk-cancel/),
        page.click('button:text("Cancel 3 run(s)")'),
      ]);
      expect(await page.locator('.notice').textContent()).toContain('3 run(s) cancelled');
      for (const key of ['bc-1', 'bc-2', 'bc-3']) {
        const run = await s.client.get(key);
        expect(run.state).toBe('cancelled');
        expect(run.cancelReason).toBe('Bulk cancel from the dashboard');
      }
      expect((await s.client.get('keep-1')).state).toBe('idle');
    });

    it('should retry exactly the failed and stalled runs the filter matches', async () => {
      await page.goto(`${base}/runs?workflow=demo.charge&key=rt-`);
      await page.click('a:text("Retry the matching failed and stalled runs of demo.charge…")');
      expect(await page.locator('h1').textContent()).toBe('Bulk retry');
      expect(await page.locator('.notice b.count').textContent()).toBe('2');
      s.app.get(DemoProbe).cardDeclined = false;
      await Promise.all([
        page.waitForURL(/notice=bulk/),
        page.click('button:text("Retry 2 run(s)")'),
      ]);
      expect(await page.locator('.notice').textContent()).toContain('2 run(s) retried');
      await Promise.all([s.until('rt-1', 'completed'), s.until('rt-2', 'completed')]);
      expect((await s.client.get('hold-1')).state).toBe('stalled');
    });

    it('should refuse a bulk cancel without CSRF token, by a guard, or for a state that cannot be cancelled', async () => {
      const form = 'workflow=demo.waiter&confirm=yes';
      const post = (path: string, headers: Record<string, string>) =>
        fetch(`${s.origin}/api/${path}/bulk-cancel`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: form,
        });
      const noCsrf = await post('ops/cf', { [TOKEN_HEADER]: TOKEN });
      expect(noCsrf.status).toBe(403);
      expect(await noCsrf.text()).toContain('CSRF');
      // The viewer dashboard shows the confirmation to anyone, but only the token may act.
      const viewer = await s.browser.newContext();
      const viewerPage = await viewer.newPage();
      await viewerPage.goto(`${s.origin}/api/viewer/bulk-cancel?workflow=demo.waiter`);
      expect(await viewerPage.locator('.notice b.count').textContent()).toBe('1');
      const [denied] = await Promise.all([
        viewerPage.waitForResponse((r) => r.request().method() === 'POST'),
        viewerPage.click('button:text("Cancel 1 run(s)")'),
      ]);
      expect(denied.status()).toBe(403);
      await viewer.close();
      expect((await post('chronoforge', {})).status).toBe(403);
      expect((await s.client.get('keep-1')).state).toBe('idle');
      const none = await fetch(`${base}/bulk-cancel?workflow=demo.ship`, {
        headers: { [TOKEN_HEADER]: TOKEN },
      });
      const nothing = await none.text();
      expect(nothing).toContain('<b class="count">0</b>');
      expect(nothing).not.toContain('<button');
      const completed = await fetch(`${base}/bulk-cancel?workflow=demo.ship&state=completed`, {
        headers: { [TOKEN_HEADER]: TOKEN },
      });
      expect(completed.status).toBe(400);
      expect(await completed.text()).toContain('cannot be cancelled');
      const idle = await fetch(`${base}/bulk-retry?workflow=demo.waiter&state=idle`, {
        headers: { [TOKEN_HEADER]: TOKEN },
      });
      expect(idle.status).toBe(400);
      expect(await idle.text()).toContain('cannot be retried');
    });
  },
);

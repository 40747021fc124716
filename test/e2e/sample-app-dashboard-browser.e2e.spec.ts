import { startSampleApp } from '../support/sample-app.js';
import type { INestApplication } from '@nestjs/common';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, type WorkflowState } from '../../lib/index.js';
import { InventoryService } from '../../sample-app/inventory/inventory.service.js';
import * as env from '../support/env.js';
import { CHROMIUM, hasChromium } from './dashboard-browser.js';

const SECRET = 'sample-dashboard-secret';

/** The sample app's own dashboard in Chromium: list → run → branch → child, and a retry from the UI. */
describe.skipIf(!hasChromium)('sample app dashboard in Chromium (e2e)', () => {
  const schema = env.uniqueName('cf_sbrowse');
  const queueName = env.uniqueName('q_sbrowse');
  let app: INestApplication;
  let client: WorkflowClient;
  let origin: string;
  let browser: Browser;
  let page: Page;

  const post = (path: string, body: unknown) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const until = (key: string, state: WorkflowState) =>
    env.eventually(async () => (await client.get(key)).state === state, 15_000, `${key} ${state}`);
  const badge = () => page.locator('h1 .badge').textContent();

  beforeAll(async () => {
    process.env.CHRONOFORGE_DASHBOARD_TOKEN = SECRET;
    ({ app, origin } = await startSampleApp({ schema, queueName, orders: { coolOff: '100ms' } }));
    client = app.get(WorkflowClient);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
      headless: true,
    });
    const operator = await browser.newContext({
      extraHTTPHeaders: { 'x-dashboard-token': SECRET },
    });
    page = await operator.newPage();
    page.setDefaultTimeout(5_000);

    const lines = [
      { sku: 'MUG-01', quantity: 1 },
      { sku: 'CAP-03', quantity: 2 },
    ];
    expect((await post('/orders', { orderId: 'D-1', lines, email: 'd@x.io' })).status).toBe(202);
    const tooMany = [{ sku: 'TEE-02', quantity: 900 }]; // 500 in stock
    expect(
      (await post('/orders', { orderId: 'D-2', lines: tooMany, email: 'e@x.io' })).status,
    ).toBe(202);
    await Promise.all([until('order-D-1', 'idle'), until('order-D-2', 'stalled')]);
  });

  afterAll(async () => {
    delete process.env.CHRONOFORGE_DASHBOARD_TOKEN;
    await browser?.close();
    await app?.close();
    await env.cleanup(schema, queueName);
  });

  it('should go from the runs list to an order, its packing branch, a line and back', async () => {
    await page.goto(`${origin}/chronoforge/runs`);
    await page.selectOption('select[name=workflow]', 'orders.fulfil');
    await page.click('form.filters button');
    expect(await page.locator('table.runs tbody tr').count()).toBe(2);
    await page.click('table.runs a:text-is("order-D-1")');
    expect(await page.locator('h1').textContent()).toContain('orders.fulfil');
    expect(await page.locator('table.steps').textContent()).toContain('step$payments.charge');
    await page.click('table.branches >> a:text("packing")');
    expect(await page.locator('h1').textContent()).toContain('packing');
    expect(await page.locator('table.children tbody tr').count()).toBe(2);
    await page.click('table.children a:text-is("order-D-1$orders.fulfil$packing$line_1")');
    expect(await page.locator('h1').textContent()).toContain('orders.line.pack');
    expect(await badge()).toBe('completed');
    expect(await page.locator('nav.crumbs').textContent()).toContain('branch packing');
    await page.click('nav.crumbs >> text=orders.fulfil order-D-1');
    expect(await page.locator('h1').textContent()).toContain('order-D-1');
  });

  it('should retry an order stalled out of stock from its page once restocked, and see it complete', async () => {
    await page.goto(`${origin}/chronoforge/runs?key=order-D-2`);
    await page.click('table.runs a:text-is("order-D-2")');
    expect(await badge()).toBe('stalled');
    expect(await page.locator('table.errors').textContent()).toContain('OutOfStockError');
    app.get(InventoryService).restock('TEE-02', 500);
    await Promise.all([page.waitForURL(/notice=retried/), page.click('button:text("Retry")')]);
    // The order now runs to its delivery wait; the confirmation is kept until it gets there.
    const delivered = () => post('/orders/order-D-2/signals/delivered', { receivedBy: 'Eve' });
    await env.eventually(async () => (await delivered()).ok, 15_000, 'the delivered signal');
    await expect
      .poll(async () => (await page.reload(), badge()), { timeout: 15_000 })
      .toBe('completed');
    expect(await page.locator('table.steps').textContent()).toContain(
      'step$notifications.orderDelivered',
    );
  });
});

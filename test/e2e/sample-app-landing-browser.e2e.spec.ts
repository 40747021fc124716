import type { INestApplication } from '@nestjs/common';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRY_IT_KEY, TRY_IT_ORDER, tryItCommands } from '../../sample-app/landing/try-it.js';
import { startSampleApp } from '../support/sample-app.js';
import { cleanup, uniqueName } from '../support/env.js';
import { hasChromium, launchChromium } from './dashboard-browser.js';

/** The sample app's landing page `/` in Chromium: the tour's commands and an order's live progress. */
describe.skipIf(!hasChromium)('sample app landing page in Chromium (e2e)', () => {
  const schema = uniqueName('cf_lbrowse');
  const queueName = uniqueName('q_lbrowse');
  let app: INestApplication;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const log = () => page.locator('#log').textContent();

  beforeAll(async () => {
    ({ app, origin } = await startSampleApp({ schema, queueName, orders: { coolOff: '100ms' } }));
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should render what the app does, the three commands and the dashboard link', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(`${origin}/`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('ChronoForge sample shop');
    const shown = await page.locator('ol pre code').allTextContents();
    expect(shown).toEqual(tryItCommands(`http://${new URL(origin).host}`).map((c) => c.command));
    expect(await page.locator('a:text("The ChronoForge dashboard")').getAttribute('href')).toBe(
      '/chronoforge',
    );
    expect(await page.locator('#watch input[name="key"]').inputValue()).toBe(TRY_IT_KEY);
    expect(errors).toEqual([]);
  });

  it('should show the progress of a started order live, up to its completion', async () => {
    await page.goto(`${origin}/`);
    const started = await fetch(`${origin}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(TRY_IT_ORDER),
    });
    expect(started.status).toBe(202);
    await page.click('#watch button');
    // The first steps appear while the order still waits for its delivery.
    await expect.poll(log, { timeout: 20_000 }).toContain('done   step$payments.charge');
    expect(await log()).toContain('done   step$inventory.reserve');
    expect(await log()).not.toContain('(stream closed)');
    await expect
      .poll(
        async () => {
          const res = await fetch(`${origin}/orders/${TRY_IT_KEY}/signals/delivered`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ receivedBy: 'Ada' }),
          });
          return res.status;
        },
        { timeout: 20_000 },
      )
      .toBe(202);
    await expect.poll(log, { timeout: 30_000 }).toContain('state  completed');
    const lines = (await log())?.split('\n') ?? [];
    const reserve = lines.indexOf('done   step$inventory.reserve');
    const delivered = lines.indexOf('done   signal$delivered');
    expect(reserve).toBeGreaterThanOrEqual(0);
    expect(delivered).toBeGreaterThan(reserve);
    expect(lines.indexOf('state  completed')).toBeGreaterThan(delivered);
  });
});

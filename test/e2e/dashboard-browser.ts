import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { WorkflowClient, type WorkflowState } from '../../lib/index.js';
import { cleanup, eventually } from '../support/env.js';
import {
  bootDashboardApp,
  type DashboardAppOptions,
  TOKEN,
  TOKEN_HEADER,
} from './dashboard.fixture.js';

/** The system Chromium (`apt-get install -y chromium`); Playwright never downloads a browser here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
ARGS.push('--disable-component-update', '--disable-sync', '--no-first-run');

/** Whether the browser tests can run; they skip (with this notice) otherwise. */
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `[dashboard e2e] SKIPPED: no Chromium at ${CHROMIUM}. Install it: apt-get install -y chromium`,
  );
}

/** Launches the system Chromium headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

/** Set CF_DASHBOARD_SCREENSHOTS=1 to refresh docs/dashboard-*.png. */
const SHOTS = process.env.CF_DASHBOARD_SCREENSHOTS === '1';

/** The demo app, a Chromium with an operator context (token header) and one page. */
export interface DashboardSession {
  app: INestApplication;
  client: WorkflowClient;
  browser: Browser;
  operator: BrowserContext;
  page: Page;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** The guarded dashboard: `<origin>/api/ops/cf`. */
  base: string;
  /** Waits until run `key` is in `state`. */
  until(key: string, state: WorkflowState): Promise<unknown>;
  /** The state badge of the run or branch page. */
  badge(): Promise<string | null>;
  /** Saves `docs/dashboard-<name>.png` when screenshots are enabled. */
  shot(name: string, fullPage?: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Boots the demo app and launches Chromium on it. */
export async function openDashboard(
  schema: string,
  queueName: string,
  opts: DashboardAppOptions = {},
): Promise<DashboardSession> {
  const app = await bootDashboardApp(schema, queueName, 'express', opts);
  const client = app.get(WorkflowClient);
  const origin = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const browser = await launchChromium();
  const operator = await browser.newContext({
    extraHTTPHeaders: { [TOKEN_HEADER]: TOKEN },
    viewport: { width: 1280, height: 900 },
  });
  const page = await operator.newPage();
  page.setDefaultTimeout(20_000); // a loaded CI machine runs the whole suite beside the browser
  return {
    app,
    client,
    browser,
    operator,
    page,
    origin,
    base: `${origin}/api/ops/cf`,
    until: (key, state) =>
      eventually(async () => (await client.get(key)).state === state, 15_000, `${key} ${state}`),
    badge: () => page.locator('h1 .badge').textContent(),
    async shot(name, fullPage = true) {
      if (!SHOTS) return;
      mkdirSync('docs', { recursive: true });
      await page.screenshot({ path: `docs/dashboard-${name}.png`, fullPage });
    },
    async close() {
      await browser.close();
      await app.close();
      await cleanup(schema, queueName);
    },
  };
}

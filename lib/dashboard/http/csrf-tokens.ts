import { Inject, Injectable } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CsrfTokenError } from './csrf-token.error.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ResolvedDashboardOptions,
} from '../options/dashboard-options.interface.js';
import {
  cookies,
  type DashboardRequest,
  type DashboardResponse,
  isSecure,
  readForm,
  setResponseHeader,
} from './request.util.js';

/** Cookie holding the random nonce the tokens are bound to. */
export const CSRF_COOKIE = 'cf_dashboard_csrf';
/** Form field carrying the token. */
export const CSRF_FIELD = '_csrf';
const NONCE = /^[0-9a-f]{32}$/;

/** A header's single value. */
const header = (req: DashboardRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Rejects a request a browser marks as coming from another origin: `Sec-Fetch-Site` is set by the
 * browser and cannot be forged by a page; a same-site page (another port or subdomain) is refused
 * too, since it can toss cookies. Older browsers send only `Origin`, compared with the request's
 * host (or a proxy's `X-Forwarded-Host`).
 */
function assertSameOrigin(req: DashboardRequest): void {
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

/**
 * Double-submit CSRF protection: a random nonce in an HttpOnly, SameSite=Strict cookie and, in
 * every form, the token HMAC(secret, nonce). Another site can neither read the cookie nor compute
 * the token without the secret.
 */
@Injectable()
export class CsrfTokens {
  constructor(
    @Inject(CHRONO_FORGE_DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  /** The token for this browser, setting the nonce cookie (scoped to `cookiePath`) when missing. */
  issue(req: DashboardRequest, res: DashboardResponse, cookiePath: string): string {
    let nonce = cookies(req)[CSRF_COOKIE];
    if (!nonce || !NONCE.test(nonce)) {
      nonce = randomBytes(16).toString('hex');
      const secure = isSecure(req) ? '; Secure' : '';
      setResponseHeader(
        res,
        'Set-Cookie',
        `${CSRF_COOKIE}=${nonce}; Path=${cookiePath || '/'}; HttpOnly; SameSite=Strict${secure}`,
      );
    }
    return this.sign(nonce);
  }

  /**
   * Throws `CsrfTokenError` for a cross-origin POST (`Sec-Fetch-Site` other than `same-origin` or
   * `none`; without it, an `Origin` whose host is not the request's) or unless the posted token
   * matches the cookie's nonce.
   */
  async verify(req: DashboardRequest): Promise<void> {
    assertSameOrigin(req);
    const nonce = cookies(req)[CSRF_COOKIE];
    const token = (await readForm(req))[CSRF_FIELD];
    if (!nonce || !NONCE.test(nonce))
      throw new CsrfTokenError('Missing CSRF cookie; reload the page and try again.');
    if (!token) throw new CsrfTokenError('Missing CSRF token.');
    const expected = Buffer.from(this.sign(nonce));
    const given = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new CsrfTokenError('Invalid CSRF token; reload the page and try again.');
    }
  }

  private sign(nonce: string): string {
    return createHmac('sha256', this.options.csrfSecret).update(nonce).digest('base64url');
  }
}

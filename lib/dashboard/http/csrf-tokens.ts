import { Inject, Injectable } from '@nestjs/common';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ResolvedDashboardOptions,
} from '../options/dashboard-options.interface.js';
import { cookieNonces, csrfCookie, mac, newNonce, sameText } from './csrf-cookie.js';
import { CsrfTokenError } from './csrf-token.error.js';
import {
  appendSetCookie,
  type DashboardRequest,
  type DashboardResponse,
  isSecure,
  readForm,
} from './request.util.js';
import { assertSameOrigin } from './same-origin.js';

/** Form field carrying the token. */
export const CSRF_FIELD = '_csrf';

/**
 * CSRF protection bound to a server-issued nonce: the server sets a random nonce in an HttpOnly,
 * `SameSite=Strict` cookie signed with the secret (`<nonce>.<mac>`; `__Host-` and `Secure` over
 * TLS) and puts HMAC(secret, nonce, subject) in every form. A cookie value the server did not
 * sign is ignored, so a page that plants its own nonce gets no token for it; two different
 * signed cookies in one request are refused. Cross-origin POSTs are refused before the token is
 * looked at.
 */
@Injectable()
export class CsrfTokens {
  constructor(
    @Inject(CHRONO_FORGE_DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  /** The token for this browser, setting a new signed nonce cookie when it has none. */
  issue(req: DashboardRequest, res: DashboardResponse, cookiePath: string): string {
    const secure = isSecure(req);
    let [nonce] = cookieNonces(req, this.options.csrfSecret, secure);
    if (nonce === undefined) {
      const fresh = newNonce(this.options.csrfSecret);
      nonce = fresh.nonce;
      appendSetCookie(res, csrfCookie(fresh.value, secure, cookiePath));
    }
    return this.sign(req, nonce);
  }

  /**
   * Throws `CsrfTokenError` for a cross-origin POST (`Sec-Fetch-Site` other than `same-origin` or
   * `none`; without it, an `Origin` whose host is not the request's), without exactly one
   * server-signed nonce cookie, or unless the posted token is the one for that nonce (and subject).
   */
  async verify(req: DashboardRequest): Promise<void> {
    assertSameOrigin(req);
    const nonces = cookieNonces(req, this.options.csrfSecret, isSecure(req));
    const token = (await readForm(req))[CSRF_FIELD];
    if (nonces.length === 0)
      throw new CsrfTokenError('Missing CSRF cookie; reload the page and try again.');
    if (nonces.length > 1) {
      throw new CsrfTokenError(
        'Two different CSRF cookies arrived (a page on another port or subdomain of this host may have set one); clear the cookies of this site and reload.',
      );
    }
    if (!token) throw new CsrfTokenError('Missing CSRF token.');
    if (!sameText(token, this.sign(req, nonces[0]))) {
      throw new CsrfTokenError('Invalid CSRF token; reload the page and try again.');
    }
  }

  /** HMAC(secret, nonce, subject): the subject is `csrfSubject(req)`, or none. */
  private sign(req: DashboardRequest, nonce: string): string {
    const subject = this.options.csrfSubject?.(req) ?? null;
    return mac(this.options.csrfSecret, 'token', [nonce, subject]);
  }
}

import { cookieNonces, csrfCookie, mac, newNonce, sameText } from './csrf-cookie.js';
import { CsrfTokenError } from './csrf-token.error.js';
import {
  appendSetCookie,
  type WebRequest,
  type WebResponse,
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
export class CsrfTokens {
  /**
   * @param secret signs the nonce cookies and the tokens (processes that share it accept each other's forms)
   * @param subject who the request is signed in as, bound into the token when given
   */
  constructor(
    private readonly secret: Buffer,
    private readonly subject?: (req: WebRequest) => string | null | undefined,
  ) {}

  /** The token for this browser, setting a new signed nonce cookie when it has none. */
  issue(req: WebRequest, res: WebResponse, cookiePath: string): string {
    const secure = isSecure(req);
    let [nonce] = cookieNonces(req, this.secret, secure);
    if (nonce === undefined) {
      const fresh = newNonce(this.secret);
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
  async verify(req: WebRequest): Promise<void> {
    assertSameOrigin(req);
    const nonces = cookieNonces(req, this.secret, isSecure(req));
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
  private sign(req: WebRequest, nonce: string): string {
    const subject = this.subject?.(req) ?? null;
    return mac(this.secret, 'token', [nonce, subject]);
  }
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { cookieValues, type WebRequest } from './request.util.js';

/** Name of the CSRF cookie over plain HTTP. */
export const CSRF_COOKIE = 'cf_dashboard_csrf';
/**
 * Name of the CSRF cookie over TLS: browsers accept a `__Host-` cookie only with `Secure`,
 * `Path=/` and no `Domain`, so neither a plain-HTTP page nor a subdomain can set it.
 */
export const HOST_CSRF_COOKIE = `__Host-${CSRF_COOKIE}`;

const NONCE = /^[0-9a-f]{32}$/;

/** HMAC-SHA256 of `parts` under `secret`, base64url; `purpose` separates cookie MACs from tokens. */
export function mac(secret: Buffer, purpose: 'cookie' | 'token', parts: unknown[]): string {
  return createHmac('sha256', secret)
    .update(JSON.stringify([purpose, ...parts]))
    .digest('base64url');
}

/** Constant-time string comparison. */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A fresh server-issued nonce and its cookie value `<nonce>.<mac>`. */
export function newNonce(secret: Buffer): { nonce: string; value: string } {
  const nonce = randomBytes(16).toString('hex');
  return { nonce, value: `${nonce}.${mac(secret, 'cookie', [nonce])}` };
}

/** The nonce of a cookie value this server signed, or `undefined` (unsigned, forged, malformed). */
export function verifiedNonce(secret: Buffer, value: string): string | undefined {
  const dot = value.indexOf('.');
  const nonce = value.slice(0, dot);
  if (dot < 0 || !NONCE.test(nonce)) return undefined;
  return sameText(value.slice(dot + 1), mac(secret, 'cookie', [nonce])) ? nonce : undefined;
}

/**
 * The distinct server-signed nonces among the request's CSRF cookies: under TLS only the
 * `__Host-` cookie counts; values the server did not sign (a cookie tossed by another page of
 * the host, an old unsigned one) are ignored.
 */
export function cookieNonces(req: WebRequest, secret: Buffer, secure: boolean): string[] {
  const name = secure ? HOST_CSRF_COOKIE : CSRF_COOKIE;
  const nonces = cookieValues(req, name).map((v) => verifiedNonce(secret, v));
  return [...new Set(nonces.filter((n): n is string => n !== undefined))];
}

/** The `Set-Cookie` value: `__Host-…; Path=/; Secure` under TLS, else scoped to `path`. */
export function csrfCookie(value: string, secure: boolean, path: string): string {
  return secure
    ? `${HOST_CSRF_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Secure`
    : `${CSRF_COOKIE}=${value}; Path=${path || '/'}; HttpOnly; SameSite=Strict`;
}

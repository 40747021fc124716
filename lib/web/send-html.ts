import type { SafeHtml } from './html.util.js';
import { type WebResponse, setResponseHeader } from './request.util.js';

/** Headers of every dashboard page: no scripts, no remote assets, no framing, no caching. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Sets the page headers and returns the body for Nest to send. */
export function sendHtml(res: WebResponse, page: SafeHtml): string {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) setResponseHeader(res, name, value);
  return page.value;
}

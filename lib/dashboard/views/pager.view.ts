import type { Page } from '../../inspection/keyset-page.js';
import { href, html, type SafeHtml } from '../../web/html.util.js';

/** Query parameters a list's links keep (filters, page size). */
export type KeptParams = Record<string, string | undefined>;

/**
 * The links of a keyset-paged list: « First and ‹ Previous when rows come before this page,
 * Next › when rows follow it. `url` is the list's page; `keep` the parameters every link keeps.
 */
export function pager(url: string, page: Page<unknown>, keep: KeptParams = {}): SafeHtml {
  if (!page.prev && !page.next) return html``;
  return html`<nav class="pager">
    ${page.prev ? html`<a href="${href(url, '', keep)}">« First</a> <a rel="prev" href="${href(url, '', { ...keep, ...page.prev })}">‹ Previous</a>` : ''}
    ${page.next ? html`<a rel="next" href="${href(url, '', { ...keep, ...page.next })}">Next ›</a>` : ''}
  </nav>`;
}

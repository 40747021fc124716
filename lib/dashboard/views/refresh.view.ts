import { href, html, type SafeHtml } from '../../web/html.util.js';
import type { ViewContext } from './layout.view.js';

/** The auto-refresh intervals offered, in seconds. */
export const REFRESH_SECONDS: readonly number[] = [5, 10, 30, 60];

/**
 * The auto-refresh toggle: links to this page (`path` with `params`) without `refresh` (off) and
 * with each interval. The page then reloads with a `<meta http-equiv="refresh">` tag (the
 * dashboard's Content-Security-Policy allows no script, and needs none for this).
 */
export function refreshToggle(
  ctx: ViewContext,
  path: string,
  params: Record<string, string | undefined> = {},
): SafeHtml {
  const link = (seconds: number | undefined, label: string) => {
    const on = (ctx.refresh ?? undefined) === seconds;
    return html`<a
      href="${href(ctx.base, path, { ...params, refresh: seconds })}"
      ${on ? html`aria-current="true"` : ''}
      data-refresh="${seconds ?? 'off'}"
      >${label}</a
    >`;
  };
  return html`<span class="refresh"
    >Auto-refresh:
    ${link(undefined, 'off')}${REFRESH_SECONDS.map((s) => html` · ${link(s, `${s}s`)}`)}</span
  >`;
}

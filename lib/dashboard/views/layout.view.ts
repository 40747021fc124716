import { html, href, type SafeHtml, trusted } from '../../web/html.util.js';

/** What every view needs: the mount path, the CSRF token for forms and the current time. */
export interface ViewContext {
  /** URL path the dashboard is served under, e.g. `/chronoforge` (global prefix included). */
  base: string;
  /** CSRF token every POST form carries. */
  csrf: string;
  now: number;
  /** Fixed notice to show on top (after an action). */
  notice?: string;
  /** Seconds after which the page reloads itself (`?refresh=`), if the operator turned it on. */
  refresh?: number;
}

const CSS = trusted(`
:root{--bg:#f7f7f8;--fg:#1d1d22;--muted:#6b6b76;--line:#dcdce3;--accent:#3546c8;--card:#fff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{background:#1d1d22;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfd3ff;text-decoration:none}header a.on{color:#fff;font-weight:600}header strong{font-size:16px}
main{padding:16px 20px;max-width:1300px}h1{font-size:20px;margin:8px 0 12px}h2{font-size:16px;margin:22px 0 8px}
a{color:var(--accent)}table{border-collapse:collapse;width:100%;background:var(--card);margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}th{font-weight:600;background:#f0f0f4}
.muted{color:var(--muted)}.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e4e4ea}
.s-completed{background:#d5f5dd;color:#135c27}.s-failed,.s-stalled{background:#fde0e0;color:#8a1c1c}
.s-running{background:#dde6ff;color:#1f3a9c}.s-idle,.s-pending{background:#fff4cc;color:#735b00}.s-cancelled{background:#e4e4ea;color:#444}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}pre{background:#f0f0f4;padding:8px;overflow:auto;max-height:360px;margin:4px 0;font-size:12px}
form.inline{display:inline}button{font:inherit;padding:4px 12px;border:1px solid var(--accent);border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}
button.danger{background:#b3261e;border-color:#b3261e}button.plain{background:#fff;color:var(--accent)}
.filters{display:flex;gap:10px;align-items:end;flex-wrap:wrap;background:var(--card);padding:10px;border:1px solid var(--line)}
.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}input,select{font:inherit;padding:3px 6px}
.notice{background:#e7f0ff;border:1px solid #b8ccff;padding:8px 12px;margin-bottom:12px}.crumbs{margin:4px 0 8px}
.bar{position:relative;height:10px;background:#eee;min-width:160px}.bar i{position:absolute;top:0;bottom:0;background:var(--accent)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0;background:var(--card);padding:10px;border:1px solid var(--line)}dl.kv dt{color:var(--muted)}
details summary{cursor:pointer}.actions{display:flex;gap:8px;margin:10px 0;flex-wrap:wrap}
.scroll{overflow-x:auto}svg.chart{background:var(--card);border:1px solid var(--line);max-width:100%;height:auto}
.toolbar{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin:6px 0}.toolbar a[aria-current]{font-weight:600;color:var(--fg);text-decoration:none}
`);

const NAV: [string, string, string][] = [
  ['overview', '/', 'Overview'],
  ['analytics', '/analytics', 'Analytics'],
  ['runs', '/runs', 'Runs'],
  ['stranded', '/stranded', 'Stranded'],
  ['schedules', '/schedules', 'Schedules'],
  ['limits', '/limits', 'Limits'],
];

/** The page shell: inline CSS, navigation, the notice and `content`. No scripts, no remote assets. */
export function layout(
  ctx: ViewContext,
  active: string,
  title: string,
  content: SafeHtml,
): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        ${ctx.refresh ? html`<meta http-equiv="refresh" content="${ctx.refresh}" />` : ''}
        <title>${title} · ChronoForge</title>
        <style>
          ${CSS}
        </style>
      </head>
      <body>
        <header>
          <strong>ChronoForge</strong>
          ${NAV.map(([key, path, label]) => html`<a class="${key === active ? 'on' : ''}" href="${href(ctx.base, path === '/' ? '' : path)}">${label}</a>`)}
        </header>
        <main>
          ${ctx.notice ? html`<div class="notice" role="status">${ctx.notice}</div>` : ''}${content}
        </main>
      </body>
    </html>`;
}

/** A POST form with the CSRF token and one button. */
export function actionForm(
  ctx: ViewContext,
  action: string,
  label: string,
  opts: { danger?: boolean; fields?: Record<string, string> } = {},
): SafeHtml {
  const fields = Object.entries(opts.fields ?? {});
  return html`<form class="inline" method="post" action="${action}">
    <input
      type="hidden"
      name="_csrf"
      value="${ctx.csrf}"
    />${fields.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`)}
    <button type="submit" class="${opts.danger ? 'danger' : ''}">${label}</button>
  </form>`;
}

/** A state as a coloured badge, optionally with another label. */
export function badge(state: string, label = state): SafeHtml {
  return html`<span class="badge s-${state.replace(/[^a-z]/g, '')}">${label}</span>`;
}

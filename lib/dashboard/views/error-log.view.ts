import type { Page } from '../../inspection/keyset-page.js';
import type { ErrorRow, RunDetailRow } from '../../inspection/run-rows.js';
import { clip, when } from '../../web/format.util.js';
import { href, html, preText, type SafeHtml, seg, thead } from '../../web/html.util.js';
import { layout, type ViewContext } from './layout.view.js';
import { type KeptParams, pager } from './pager.view.js';

/** Longest error message and backtrace a list prints. */
const MAX_MESSAGE_CHARS = 1_000;
const MAX_BACKTRACE_CHARS = 4_000;

/** A table of error-log rows with their backtraces. */
export function errorTable(ctx: ViewContext, errors: ErrorRow[]): SafeHtml {
  if (errors.length === 0) return html`<p class="muted">None.</p>`;
  return html`<table class="errors">
    ${thead(['When', 'Step', 'Attempt', 'Error'])}
    <tbody>
      ${errors.map(
        (e) =>
          html`<tr data-error="${e.id}">
            <td>${when(e.created_at, ctx.now)}</td>
            <td>${e.step_name ? html`<code>${e.step_name}</code>` : html`<i>workflow</i>`}</td>
            <td>${e.attempt ?? '—'}</td>
            <td>
              <b>${e.error_class}</b>: ${clip(e.error_message ?? '', MAX_MESSAGE_CHARS)}
              ${
                e.backtrace
                  ? html`<details>
                      <summary>backtrace</summary>
                      <pre>${preText(clip(e.backtrace, MAX_BACKTRACE_CHARS))}</pre>
                    </details>`
                  : ''
              }
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** The run page's error section: the newest errors and a link to all of them. */
export function errorPreview(
  ctx: ViewContext,
  run: RunDetailRow,
  errors: Page<ErrorRow>,
  total: number,
): SafeHtml {
  const all = `${ctx.base}/runs/${seg(run.id)}/errors`;
  return html`<h2>Errors${total ? ` (${total})` : ''}</h2>
    ${errorTable(ctx, errors.rows)}
    ${errors.next ? html`<p><a href="${all}">All ${total} errors ›</a></p>` : ''}`;
}

/** Every error of a run, newest first, a page at a time. */
export function errorsView(
  ctx: ViewContext,
  run: RunDetailRow,
  errors: Page<ErrorRow>,
  total: number,
  keep: KeptParams,
): SafeHtml {
  const runUrl = `${ctx.base}/runs/${seg(run.id)}`;
  const content = html`<nav class="crumbs">
      <a href="${runUrl}">${run.workflow} ${run.key}</a> › errors
    </nav>
    <h1>Errors <span class="muted">(${total})</span></h1>
    ${errorTable(ctx, errors.rows)} ${pager(href(runUrl, '/errors'), errors, keep)}`;
  return layout(ctx, 'runs', `Errors of ${run.key}`, content);
}

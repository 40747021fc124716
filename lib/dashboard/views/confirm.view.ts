import { html, type SafeHtml } from '../../web/html.util.js';
import { actionForm, layout, type ViewContext } from './layout.view.js';

/**
 * A confirmation page: what will happen, a POST button (with `confirm=yes`) and a way back; no
 * button when `nothing` (a bulk action that matches no run).
 */
export function confirmView(
  ctx: ViewContext,
  title: string,
  explanation: SafeHtml,
  action: string,
  label: string,
  back: string,
  fields: Record<string, string> = {},
  nothing = false,
): SafeHtml {
  const content = html`<h1>${title}</h1>
    <div class="notice">${explanation}</div>
    <div class="actions">
      ${nothing ? '' : actionForm(ctx, action, label, { danger: true, fields: { ...fields, confirm: 'yes' } })}
      <a href="${back}">Back</a>
    </div>`;
  return layout(ctx, 'runs', title, content);
}

/** An error page (denied, not found, invalid transition, bad token). */
export function errorView(
  ctx: Omit<ViewContext, 'csrf'>,
  status: number,
  title: string,
  message: string,
): SafeHtml {
  const content = html`<h1>${status} ${title}</h1>
    <p>${message}</p>
    <p><a href="${ctx.base || '/'}">Back to the dashboard</a></p>`;
  return layout({ ...ctx, csrf: '' }, '', title, content);
}

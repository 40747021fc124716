import type { LimitInfo } from '../../limits/limit-info.interface.js';
import type { LimitDefinition } from '../../options/limit-options.interface.js';
import type { ScheduleInfo } from '../../schedules/schedule.interface.js';
import { span, when } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg, tableBody, thead } from '../../web/html.util.js';
import { actionForm, badge, layout, type ViewContext } from './layout.view.js';

/** Every schedule: cron, state, next ticks, last run, counters; pause / resume / trigger. */
export function schedulesView(ctx: ViewContext, schedules: ScheduleInfo[]): SafeHtml {
  const rows = schedules.map((s) => {
    const url = `${ctx.base}/schedules/${seg(s.name)}`;
    return html`<tr data-schedule="${s.name}">
      <td><b>${s.name}</b><br /><span class="muted">${s.workflow} · ${s.origin}</span></td>
      <td><code>${s.cron}</code> <span class="muted">${s.timeZone} · ${s.overlap}</span></td>
      <td>${badge(s.state === 'paused' ? 'idle' : 'completed', s.state)}</td>
      <td>
        ${s.nextTicks.length ? when(s.nextTicks[0], ctx.now) : html`<span class="muted">—</span>`}
      </td>
      <td>
        ${s.lastRun ? html`<a href="${href(ctx.base, '/runs', { key: s.lastRun.key })}">${s.lastRun.key}</a> ${badge(s.lastRun.state ?? 'deleted')}` : '—'}
        ${s.lastError ? html`<br /><b>Last error:</b> ${s.lastError}` : ''}
      </td>
      <td>${s.ticks.fired} fired · ${s.ticks.skipped} skipped · ${s.ticks.missed} missed</td>
      <td>
        ${actionForm(ctx, `${url}/${s.state === 'paused' ? 'resume' : 'pause'}`, s.state === 'paused' ? 'Resume' : 'Pause')}
        ${actionForm(ctx, `${url}/trigger`, 'Trigger now')}
      </td>
    </tr>`;
  });
  const content = html`<h1>Schedules</h1>
    <table class="schedules">
      ${thead(['Schedule', 'Cron', 'State', 'Next tick', 'Last run', 'Ticks', ''])}
      ${tableBody(rows, 7, 'No schedules.')}
    </table>`;
  return layout(ctx, 'schedules', 'Schedules', content);
}

/** A limit's definition as text: `5 at once · 3 per 1.0s, 100 per 1m 0s`. */
function definition(d: LimitDefinition | null): string {
  if (!d) return '—';
  const rates = d.rate === undefined ? [] : Array.isArray(d.rate) ? d.rate : [d.rate];
  const parts = d.concurrency === undefined ? [] : [`${d.concurrency} at once`];
  const per = (p: unknown) => (typeof p === 'number' ? span(p) : String(p)); // stored in ms
  if (rates.length) parts.push(rates.map((r) => `${r.limit} per ${per(r.per)}`).join(', '));
  return parts.join(' · ');
}

/** Every named limit: its definition, the slots held (by whom) and the runs waiting, in order. */
export function limitsView(ctx: ViewContext, limits: LimitInfo[]): SafeHtml {
  const rows = limits.map(
    (l) =>
      html`<tr data-limit="${l.name}">
        <td><b>${l.name}</b></td>
        <td>
          ${definition(l.effective)}${l.override ? html` <span class="muted">(override)</span>` : ''}
        </td>
        <td>
          ${l.holders.length}
          ${l.holders.map((h) => html`<br /><a href="${`${ctx.base}/runs/${seg(h.runId)}`}">#${h.runId}</a> <code>${h.holder}</code> key "${h.key}" since ${when(h.acquiredAt, ctx.now)}`)}
        </td>
        <td>
          ${l.waiting.length}
          ${l.waiting.map((w) => html`<br /><a href="${`${ctx.base}/runs/${seg(w.runId)}`}">#${w.runId}</a> <code>${w.holder}</code> key "${w.key}" since ${when(w.queuedAt, ctx.now)}`)}
        </td>
      </tr>`,
  );
  const content = html`<h1>Limits</h1>
    <table class="limits">
      ${thead(['Limit', 'Definition', 'Held slots', 'Waiting runs'])}
      ${tableBody(rows, 4, 'No limits declared.')}
    </table>`;
  return layout(ctx, 'limits', 'Limits', content);
}

import type { StepRow } from '../../inspection/run-rows.js';
import { when } from '../../web/format.util.js';
import { badge } from './layout.view.js';
import { html, type SafeHtml, thead } from '../../web/html.util.js';
import type { ViewContext } from './layout.view.js';

/** Ticks of one repeat as the detail page shows them. */
export interface RepeatTicks {
  coord: StepRow;
  rows: StepRow[];
  total: number;
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** Each repeat: its frontier and its newest ticks, fast-forward summaries included. */
export function repeats(ctx: ViewContext, list: RepeatTicks[], more = false): SafeHtml {
  if (list.length === 0) return html``;
  return html`<h2>
      Repeats${more ? html` <span class="muted">(the first ${list.length})</span>` : ''}
    </h2>
    ${list.map(({ coord, rows, total }) => {
      const m = coord.metadata;
      return html`<h3><code>${coord.step_name}</code> ${badge(coord.state)}</h3>
        <dl class="kv">
          <dt>Anchor</dt>
          <dd>${when(str(m.anchor), ctx.now)}</dd>
          <dt>Last tick index</dt>
          <dd>${String(m.last_index ?? '—')}</dd>
          <dt>Frontier (last scheduled)</dt>
          <dd>${when(str(m.last_execution_at), ctx.now)}</dd>
          <dt>Tick rows</dt>
          <dd>${total}${total > rows.length ? ` (newest ${rows.length} shown)` : ''}</dd>
        </dl>
        <table class="ticks">
          ${thead(['Scheduled for', 'State', 'Attempts', 'Note'])}
          <tbody>
            ${rows.map((t) => {
              const scheduled = Number(t.step_name.slice(coord.step_name.length + 1));
              const ff = typeof t.metadata.fast_forwarded === 'number' ? t.metadata : null;
              const note = ff
                ? html`<b>Fast-forwarded ${String(ff.fast_forwarded)} expired tick(s)</b> from
                    ${when(str(ff.from), ctx.now)} to ${when(str(ff.to), ctx.now)}`
                : t.error_class
                  ? html`${t.error_class}: ${t.error_message}`
                  : '';
              return html`<tr${ff ? html` class="ff"` : ''}><td>${when(Number.isFinite(scheduled) ? scheduled : null, ctx.now)}</td>
<td>${badge(t.state)}</td><td>${t.attempts}</td><td>${note}</td></tr>`;
            })}
          </tbody>
        </table>`;
    })}`;
}

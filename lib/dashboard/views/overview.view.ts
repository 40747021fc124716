import { RUN_STATES, type WorkflowState } from '../../database/entities/workflow.entity.js';
import type { Overview, StrandedRow } from '../../inspection/run-list.store.js';
import { when } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg, tableBody, thead } from '../../web/html.util.js';
import { layout, type ViewContext, badge } from './layout.view.js';
import { refreshToggle } from './refresh.view.js';

/** Every state, in the order the dashboard shows them. */
export const STATES: readonly WorkflowState[] = RUN_STATES;

/** Runs by state and by workflow, and the stuck runs. */
export function overviewView(ctx: ViewContext, o: Overview): SafeHtml {
  const workflows = [...new Set(o.byWorkflow.map((r) => r.workflow))];
  const count = (workflow: string, state: WorkflowState) =>
    o.byWorkflow.find((r) => r.workflow === workflow && r.state === state)?.n ?? 0;
  const cards = STATES.map(
    (s) =>
      html`<a class="card" href="${href(ctx.base, '/runs', { state: s })}"
        >${badge(s)}<b>${o.byState[s] ?? 0}</b></a
      >`,
  );
  const rows = workflows.map((w) => {
    const retryable = count(w, 'failed') + count(w, 'stalled');
    return html`<tr>
      <td>
        <a href="${href(ctx.base, '/runs', { workflow: w })}">${w}</a>
        <a class="muted" href="${`${ctx.base}/workflows/${seg(w)}`}" title="Definition graph"
          >graph</a
        >
      </td>
      ${STATES.map((s) => {
        const n = count(w, s);
        return html`<td>
          ${n ? html`<a href="${href(ctx.base, '/runs', { workflow: w, state: s })}">${n}</a>` : html`<span class="muted">0</span>`}
        </td>`;
      })}
      <td>
        ${retryable ? html`<a href="${href(ctx.base, '/bulk-retry', { workflow: w })}">Retry ${retryable}…</a>` : ''}
      </td>
    </tr>`;
  });
  const content = html`<h1>Overview</h1>
    <div class="toolbar">
      ${refreshToggle(ctx, '')}
      <a href="${href(ctx.base, '/analytics')}">Analytics »</a>
    </div>
    <div class="cards">${cards}</div>
    <h2>By workflow</h2>
    <table>
      ${thead(['Workflow', ...STATES, ''])} ${tableBody(rows, 8, 'No runs yet.')}
    </table>
    <h2>Stuck runs</h2>
    <p class="muted">
      Running with a lock older than their max duration, or idle past their wake-up time by over a
      minute. The recovery sweeper normally picks these up; see
      <a href="${href(ctx.base, '/stranded')}">stranded runs</a>.
    </p>
    ${runTable(ctx, o.stuck, true)}`;
  return layout(ctx, 'overview', 'Overview', content);
}

/** A table of runs, with the stranded reason when given. */
export function runTable(
  ctx: ViewContext,
  runs: (StrandedRow | Omit<StrandedRow, 'reason'>)[],
  withReason = false,
): SafeHtml {
  if (runs.length === 0) return html`<p class="muted">None.</p>`;
  return html`<table class="runs">
    ${thead(['Id', 'Workflow', 'Key', 'State', withReason && 'Why', 'Next run', 'Locked', 'Updated'])}
    <tbody>
      ${runs.map(
        (r) =>
          html`<tr data-run="${r.id}">
            <td><a href="${`${ctx.base}/runs/${seg(r.id)}`}">#${r.id}</a></td>
            <td>${r.workflow}</td>
            <td><a href="${`${ctx.base}/runs/${seg(r.id)}`}">${r.key}</a></td>
            <td>${badge(r.state)}</td>
            ${withReason && 'reason' in r ? html`<td>${r.reason}</td>` : ''}
            <td>${when(r.next_run_at, ctx.now)}</td>
            <td>
              ${r.locked_by ? html`${r.locked_by}<br />${when(r.locked_at, ctx.now)}` : html`<span class="muted">—</span>`}
            </td>
            <td>${when(r.updated_at, ctx.now)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

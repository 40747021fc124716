import type { Page } from '../../inspection/keyset-page.js';
import type { BranchRow, RunDetailRow } from '../../inspection/run-rows.js';
import { span, when } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg, thead } from '../../web/html.util.js';
import { layout, type ViewContext, badge } from './layout.view.js';
import { type KeptParams, pager } from './pager.view.js';

/** The run page's branch section: the first branches and a link to all of them. */
export function branches(ctx: ViewContext, runId: string, page: Page<BranchRow>): SafeHtml {
  if (page.rows.length === 0) return html``;
  const all = `${ctx.base}/runs/${seg(runId)}/branches`;
  return html`<h2>Branches</h2>
    ${branchTable(ctx, runId, page.rows)}
    ${page.next ? html`<p><a href="${all}">All branches ›</a></p>` : ''}`;
}

/** Every branch of a run, oldest first, a page at a time. */
export function branchesView(
  ctx: ViewContext,
  run: RunDetailRow,
  page: Page<BranchRow>,
  keep: KeptParams,
): SafeHtml {
  const runUrl = `${ctx.base}/runs/${seg(run.id)}`;
  const content = html`<nav class="crumbs">
      <a href="${runUrl}">${run.workflow} ${run.key}</a> › branches
    </nav>
    <h1>Branches</h1>
    ${page.rows.length ? branchTable(ctx, run.id, page.rows) : html`<p class="muted">None.</p>`}
    ${pager(href(runUrl, '/branches'), page, keep)}`;
  return layout(ctx, 'runs', `Branches of ${run.key}`, content);
}

/** Branches with their children by state (each linking to the branch view) and merge poll state. */
function branchTable(ctx: ViewContext, runId: string, list: BranchRow[]): SafeHtml {
  return html`<table class="branches">
    ${thead(['Branch', 'Sealed', 'Children', 'Merge poll'])}
    <tbody>
      ${list.map((b) => {
        const url = `${ctx.base}/runs/${seg(runId)}/branches/${seg(b.name)}`;
        const children = Object.entries(b.children).map(
          ([state, n]) => html`<a href="${href(url, '', { state })}">${badge(state)} ${n}</a> `,
        );
        return html`<tr>
          <td><a href="${url}">${b.name}</a></td>
          <td>${b.state === 'completed' ? 'yes' : 'no'}</td>
          <td>${children.length ? children : html`<span class="muted">none</span>`}</td>
          <td>${pollSummary(ctx, b.metadata.poll)}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

/** One line about the last BranchMergeJob poll. */
export function pollSummary(ctx: ViewContext, poll: unknown): SafeHtml {
  if (!poll || typeof poll !== 'object') return html`<span class="muted">not polled</span>`;
  const p = poll as Record<string, number | boolean | null>;
  const eta =
    typeof p.eta_seconds === 'number' ? `ETA ${span(p.eta_seconds * 1000)}` : 'ETA unknown';
  const next =
    typeof p.next_poll_at === 'number'
      ? html`, next poll ${when(p.next_poll_at, ctx.now)}`
      : html`, done polling`;
  return html`${String(p.pending ?? '?')} pending of ${String(p.spawned ?? '?')},
  ${String(p.never_started ?? 0)} never started, rate ${String(p.rate ?? 0)}/s, ${eta},
  ${String(p.polls ?? 0)} poll(s)${next}`;
}

import type { WorkflowState } from '../../database/entities/workflow.entity.js';
import type { Page } from '../../inspection/keyset-page.js';
import type { BranchRow, ChildRow, RunDetailRow, StepRow } from '../../inspection/run-rows.js';
import { json, when } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg, thead } from '../../web/html.util.js';
import { layout, type ViewContext, badge } from './layout.view.js';
import { STATES } from './overview.view.js';
import { pollSummary } from './branch-summary.view.js';
import { type KeptParams, pager } from './pager.view.js';

/** Everything the branch view shows. */
export interface BranchViewData {
  parent: RunDetailRow;
  branch: BranchRow;
  merge: StepRow | undefined;
  state: WorkflowState | undefined;
  children: Page<ChildRow>;
  /** Parameters the children's page links keep (state filter, page size). */
  keep: KeptParams;
}

/** One branch of a run: children by state with drill-down, merge poll state and a page of children. */
export function branchView(ctx: ViewContext, d: BranchViewData): SafeHtml {
  const parentUrl = `${ctx.base}/runs/${seg(d.parent.id)}`;
  const url = `${parentUrl}/branches/${seg(d.branch.name)}`;
  const total = Object.values(d.branch.children).reduce((a, n) => a + (n ?? 0), 0);
  const poll = d.branch.metadata.poll as Record<string, unknown> | undefined;
  const content = html`<nav class="crumbs">
      <a href="${parentUrl}">${d.parent.workflow} ${d.parent.key}</a> › branch ${d.branch.name}
    </nav>
    <h1>
      Branch
      <code>${d.branch.name}</code>
      ${d.branch.state === 'completed' ? badge('completed', 'sealed') : badge('running', 'open')}
    </h1>
    <p class="muted">
      ${d.branch.state === 'completed' ? 'Sealed: the branch method returned; no more children will be spawned.' : 'Open: the branch method is still spawning children.'}
    </p>
    <div class="cards">
      <a class="card" href="${url}">all<b>${total}</b></a> ${STATES.filter(
        (s) => d.branch.children[s],
      ).map(
        (s) =>
          html`<a class="card" href="${href(url, '', { state: s })}"
            >${badge(s)}<b>${d.branch.children[s]}</b></a
          >`,
      )}
    </div>
    <h2>Merge</h2>
    ${d.merge ? html`<p><code>${d.merge.step_name}</code> ${badge(d.merge.state)}</p>` : html`<p class="muted">Not merged yet.</p>`}
    <p>${pollSummary(ctx, poll)}</p>
    ${
      poll
        ? html`<dl class="kv">
            <dt>Last poll</dt>
            <dd>
              ${when(typeof poll.last_polled_at === 'number' ? poll.last_polled_at : null, ctx.now)}
            </dd>
            <dt>Next poll</dt>
            <dd>
              ${when(typeof poll.next_poll_at === 'number' ? poll.next_poll_at : null, ctx.now)}
            </dd>
            <dt>ETA</dt>
            <dd>
              ${typeof poll.eta_seconds === 'number' ? when(Number(poll.last_polled_at) + poll.eta_seconds * 1000, ctx.now) : '—'}
            </dd>
            <dt>Re-kicked</dt>
            <dd>${String(poll.rekick_total ?? 0)}</dd>
          </dl>`
        : ''
    }
    <details>
      <summary>Spawn cursors</summary>
      ${json(d.branch.metadata.cursors ?? {})}
    </details>
    <h2>Children${d.state ? html` ${badge(d.state)}` : ''}</h2>
    ${
      d.children.rows.length === 0
        ? html`<p class="muted">None.</p>`
        : html`<table class="children">
            ${thead(['Id', 'Key', 'Workflow', 'State', 'Updated'])}
            <tbody>
              ${d.children.rows.map(
                (c) =>
                  html`<tr>
                    <td><a href="${`${ctx.base}/runs/${seg(c.id)}`}">#${c.id}</a></td>
                    <td><a href="${`${ctx.base}/runs/${seg(c.id)}`}">${c.key}</a></td>
                    <td>${c.workflow}</td>
                    <td>${badge(c.state)}</td>
                    <td>${when(c.updated_at, ctx.now)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    ${pager(url, d.children, d.keep)}`;
  return layout(ctx, 'runs', `Branch ${d.branch.name}`, content);
}

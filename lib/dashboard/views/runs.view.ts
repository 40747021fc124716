import type { WorkflowState } from '../../database/entities/workflow.entity.js';
import type { RunRow, StrandedRow } from '../../inspection/run-list.store.js';
import { href, html, type SafeHtml, seg } from '../../web/html.util.js';
import { layout, type ViewContext } from './layout.view.js';
import { runTable, STATES } from './overview.view.js';
import { refreshToggle } from './refresh.view.js';

/** Filter of the runs list. */
export interface RunsFilter {
  state?: WorkflowState;
  workflow?: string;
  key?: string;
  before?: string;
  /** Attribute filter terms (`customerId=c-42`, `amount:=42`), as given. */
  attr?: string[];
}

/** A link to the runs list with filter `f` (every attribute term kept) and cursor `before`. */
function runsHref(base: string, f: RunsFilter, before?: string): string {
  const link = new URL(
    href(base, '/runs', { state: f.state, workflow: f.workflow, key: f.key }),
    'http://x',
  );
  for (const term of f.attr ?? []) link.searchParams.append('attr', term);
  if (before !== undefined) link.searchParams.set('before', before);
  return `${link.pathname}${link.search}`;
}

/** Links of a runs list filtered by workflow: its definition graph, bulk retry and bulk cancel. */
function workflowLinks(ctx: ViewContext, f: RunsFilter, retry: boolean): SafeHtml {
  const w = f.workflow ?? '';
  const cancellable =
    !f.state || f.state === 'idle' || f.state === 'running' || f.state === 'stalled';
  return html`<p class="actions">
    <a href="${`${ctx.base}/workflows/${seg(w)}`}">Definition graph of ${w}</a>
    ${retry ? html`<a href="${href(ctx.base, '/bulk-retry', { workflow: w, state: f.state, key: f.key })}">Retry the matching failed and stalled runs of ${w}…</a>` : ''}
    ${cancellable ? html`<a href="${href(ctx.base, '/bulk-cancel', { workflow: w, state: f.state, key: f.key })}">Cancel the matching active runs…</a>` : ''}
  </p>`;
}

/** The runs list: filters, a page of runs and the link to older runs. */
export function runsView(
  ctx: ViewContext,
  f: RunsFilter,
  workflows: string[],
  runs: RunRow[],
  pageSize: number,
): SafeHtml {
  const option = (value: string, current: string | undefined, label = value) =>
    html`<option value="${value}" ${value === (current ?? '') ? html` selected` : ''}>
      ${label}
    </option>`;
  const older = runs.length === pageSize ? runs[runs.length - 1].id : undefined;
  const bulk = f.workflow && (!f.state || f.state === 'failed' || f.state === 'stalled');
  const content = html`<h1>Runs</h1>
    <form class="filters" method="get" action="${ctx.base}/runs">
      <label
        >State<select name="state">
          ${option('', f.state, 'any')}${STATES.map((s) => option(s, f.state))}
        </select></label
      >
      <label
        >Workflow<select name="workflow">
          ${option('', f.workflow, 'any')}${workflows.map((w) => option(w, f.workflow))}
        </select></label
      >
      <label>Key prefix<input name="key" value="${f.key ?? ''}" placeholder="order-" /></label>
      ${ctx.refresh ? html`<input type="hidden" name="refresh" value="${ctx.refresh}" />` : ''}
      ${[...(f.attr ?? []), ''].map(
        (term) =>
          html`<label
            >Attribute<input name="attr" value="${term}" placeholder="customerId=c-42"
          /></label>`,
      )}
      <button type="submit">Filter</button> <a href="${ctx.base}/runs">Reset</a>
    </form>
    <div class="toolbar">
      ${refreshToggle(ctx, '/runs', { state: f.state, workflow: f.workflow, key: f.key, before: f.before })}
    </div>
    ${f.workflow ? workflowLinks(ctx, f, Boolean(bulk)) : ''} ${runTable(ctx, runs)}
    <p>
      ${f.before ? html`<a href="${runsHref(ctx.base, f)}">« Newest</a> ` : ''}
      ${older ? html`<a rel="next" href="${runsHref(ctx.base, f, older)}">Older »</a>` : ''}
    </p>`;
  return layout(ctx, 'runs', 'Runs', content);
}

/** Runs that will not move on their own. */
export function strandedView(
  ctx: ViewContext,
  runs: StrandedRow[],
  before: string | undefined,
  pageSize: number,
): SafeHtml {
  const older = runs.length === pageSize ? runs[runs.length - 1].id : undefined;
  const content = html`<h1>Stranded runs</h1>
    <p class="muted">
      Idle or running runs that will not move on their own: a <b>stale lock</b> (older than the
      run's max duration, or held by a worker whose heartbeat stopped; the recovery sweeper hands it
      to a live worker), an <b>overdue wake-up</b> or a run that <b>never started</b> (its queue job
      was lost; the sweeper re-enqueues it), a child whose <b>parent finished</b> (cancelled or
      failed parent), or a run <b>waiting without timer</b> for over an hour (a signal or a
      <code>resume</code>). Open a run to unlock, resume or cancel it.
    </p>
    ${runTable(ctx, runs, true)}
    <p>
      ${before ? html`<a href="${`${ctx.base}/stranded`}">« Newest</a> ` : ''}
      ${older ? html`<a rel="next" href="${href(ctx.base, '/stranded', { before: older })}">Older »</a>` : ''}
    </p>`;
  return layout(ctx, 'stranded', 'Stranded runs', content);
}

import type { Page } from '../../inspection/keyset-page.js';
import type {
  Ancestor,
  BranchRow,
  ErrorRow,
  RunDetailRow,
  StepRow,
} from '../../inspection/run-rows.js';
import { json, span, when } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg } from '../../web/html.util.js';
import { attributeTerm } from '../../definitions/search-attributes.js';
import { actionForm, layout, type ViewContext, badge } from './layout.view.js';
import { branches } from './branch-summary.view.js';
import { errorPreview } from './error-log.view.js';
import { compensationTimeline } from './run-sagas.view.js';
import { type RepeatTicks, repeats } from './run-repeats.view.js';
import { type StepPage, timeline, waits } from './run-steps.view.js';

/** Everything the run detail page shows. */
export interface RunDetailData {
  run: RunDetailRow;
  /** A page of the step timeline (the URL is the run page's). */
  steps: Omit<StepPage, 'url'>;
  /** The newest errors, and how many there are. */
  errors: Page<ErrorRow>;
  errorCount: number;
  /** The first branches. */
  branches: Page<BranchRow>;
  ancestors: Ancestor[];
  repeats: RepeatTicks[];
  /** More repeats exist than are shown. */
  moreRepeats: boolean;
  /** The compensation step logs, in the order they began. */
  compensations: StepRow[];
}

const shown = (v: unknown) =>
  v && typeof v === 'object' && 'json' in v ? (v as { json: unknown }).json : v;

/** The breadcrumb of a child run: root run › branch › … › this run. */
export function breadcrumb(
  ctx: ViewContext,
  ancestors: Ancestor[],
  self: { id: string; key: string },
): SafeHtml {
  if (ancestors.length === 0) return html``;
  return html`<nav class="crumbs" aria-label="Parents">
    ${ancestors.map(
      (a) =>
        html`<a href="${`${ctx.base}/runs/${seg(a.id)}`}">${a.workflow} ${a.key}</a> ›
          <a href="${`${ctx.base}/runs/${seg(a.id)}/branches/${seg(a.branch)}`}"
            >branch ${a.branch}</a
          >
          › `,
    )}<span>${self.key}</span>
  </nav>`;
}

/** The buttons that apply to the run's state. */
function actions(ctx: ViewContext, run: RunDetailRow): SafeHtml {
  const url = `${ctx.base}/runs/${seg(run.id)}`;
  const s = run.state;
  return html`<div class="actions">
    ${s === 'failed' || s === 'stalled' ? actionForm(ctx, `${url}/retry`, 'Retry') : ''}
    ${s === 'idle' || s === 'running' ? actionForm(ctx, `${url}/resume`, 'Resume') : ''}
    ${s === 'idle' || s === 'running' ? html`<a href="${`${url}/confirm/unlock`}">Unlock…</a>` : ''}
    ${s === 'idle' || s === 'running' || s === 'stalled' ? html`<a href="${`${url}/confirm/cancel`}">Cancel…</a>` : ''}
  </div>`;
}

/** Why the engine may take the run's stale lock over. */
function staleReason(r: RunDetailRow): string {
  return r.lock_expired ? `older than ${span(r.max_duration_ms)}` : 'worker heartbeat stopped';
}

/** The run detail page. */
export function runDetailView(ctx: ViewContext, d: RunDetailData): SafeHtml {
  const r = d.run;
  const lock = r.locked_by
    ? html`${r.locked_by} since
      ${when(r.locked_at, ctx.now)}${r.lock_stale ? html` <b>(stale: ${staleReason(r)})</b>` : ''}`
    : html`<span class="muted">not locked</span>`;
  const content = html`${breadcrumb(ctx, d.ancestors, r)}
    <h1>${r.workflow} <code>${r.key}</code> ${badge(r.state)}</h1>
    ${actions(ctx, r)}
    <dl class="kv">
      <dt>Run id</dt>
      <dd>#${r.id}</dd>
      <dt>Workflow</dt>
      <dd>
        <a href="${href(ctx.base, '/runs', { workflow: r.workflow })}">${r.workflow}</a> ·
        <a href="${`${ctx.base}/workflows/${seg(r.workflow)}`}">definition graph</a>
      </dd>
      <dt>Attempt</dt>
      <dd>${r.attempt + 1}</dd>
      <dt>Created</dt>
      <dd>${when(r.created_at, ctx.now)}</dd>
      <dt>Started</dt>
      <dd>${when(r.started_at, ctx.now)}</dd>
      <dt>Finished</dt>
      <dd>${when(r.finished_at, ctx.now)}</dd>
      <dt>Updated</dt>
      <dd>${when(r.updated_at, ctx.now)}</dd>
      <dt>Next run</dt>
      <dd>${when(r.next_run_at, ctx.now)}</dd>
      <dt>Lock</dt>
      <dd>${lock}</dd>
      <dt>Max duration</dt>
      <dd>${span(r.max_duration_ms)}</dd>
      ${
        r.deadline_at
          ? html`<dt>Deadline</dt>
              <dd>${when(r.deadline_at, ctx.now)}</dd>`
          : ''
      }
      ${
        Object.keys(r.attributes ?? {}).length
          ? html`<dt>Attributes</dt>
              <dd class="attributes">
                ${Object.entries(r.attributes).map(([k, v]) => {
                  const term = attributeTerm(k, v);
                  return html`<a href="${href(ctx.base, '/runs', { attr: term })}">${term}</a> `;
                })}
              </dd>`
          : ''
      }
      ${
        r.cancel_reason
          ? html`<dt>Cancel reason</dt>
              <dd class="cancel-reason">${r.cancel_reason}</dd>`
          : ''
      }
    </dl>
    <h2>Input</h2>
    ${json(r.input)}
    <h2>Result</h2>
    ${r.result == null ? html`<p class="muted">none</p>` : json(shown(r.result))}
    <h2>Durable state</h2>
    ${Object.keys(r.context ?? {}).length ? json(r.context) : html`<p class="muted">empty</p>`}
    ${compensationTimeline(ctx, r, d.compensations)}
    ${timeline(ctx, r, { ...d.steps, url: `${ctx.base}/runs/${seg(r.id)}` })}
    ${waits(ctx, d.steps.page.rows, Boolean(d.steps.page.prev || d.steps.page.next))}
    ${repeats(ctx, d.repeats, d.moreRepeats)} ${branches(ctx, r.id, d.branches)}
    ${errorPreview(ctx, r, d.errors, d.errorCount)}`;
  return layout(ctx, 'runs', `${r.workflow} ${r.key}`, content);
}

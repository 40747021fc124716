import {
  type Analytics,
  ANALYTICS_RANGES,
  type WaitReason,
  type WorkflowSeries,
} from '../../inspection/analytics.store.js';
import { span, when } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg, tableBody, thead } from '../../web/html.util.js';
import { chartTable, lineChart, type TimeChart } from './chart.view.js';
import { layout, type ViewContext } from './layout.view.js';
import { refreshToggle } from './refresh.view.js';

/** Colours of the three series (the state badges' hues). */
const COLORS = { started: '#3546c8', completed: '#1e8e3e', failed: '#b3261e' };
/** The wait reasons, in the order of the table's columns. */
const REASONS: readonly WaitReason[] = ['lock', 'limit', 'signal', 'timer', 'children', 'queued'];

/** The chart of one workflow's runs started, completed and failed per bucket. */
function chartOf(a: Analytics, s: WorkflowSeries, i: number): TimeChart {
  return {
    id: `chart-${i}`,
    title: `Runs of ${s.workflow} started, completed and failed, last ${a.range}`,
    since: a.since,
    bucketMs: a.bucketMs,
    series: (['started', 'completed', 'failed'] as const).map((name) => ({
      name,
      color: COLORS[name],
      values: s[name],
    })),
  };
}

/** Links to the same page with another range (the current one marked). */
function rangeLinks(ctx: ViewContext, a: Analytics, workflow?: string): SafeHtml {
  return html`<span class="ranges"
    >Range:
    ${Object.keys(ANALYTICS_RANGES).map(
      (r) =>
        html`<a
          href="${href(ctx.base, '/analytics', { range: r, workflow, refresh: ctx.refresh })}"
          ${r === a.range ? html`aria-current="true"` : ''}
          >${r}</a
        > `,
    )}</span
  >`;
}

/** Idle runs per workflow (rows) and wait reason (columns). */
function waitingTable(ctx: ViewContext, a: Analytics): SafeHtml {
  const workflows = [...new Set(a.waiting.map((r) => r.workflow))];
  const count = (w: string, r: WaitReason) =>
    a.waiting.find((x) => x.workflow === w && x.reason === r)?.n ?? 0;
  const rows = workflows.map(
    (w) =>
      html`<tr data-workflow="${w}">
        <td><a href="${href(ctx.base, '/runs', { workflow: w, state: 'idle' })}">${w}</a></td>
        ${REASONS.map((r) => html`<td data-reason="${r}">${count(w, r)}</td>`)}
      </tr>`,
  );
  return html`<table class="waiting">
    ${thead(['Workflow', ...REASONS])} ${tableBody(rows, REASONS.length + 1, 'No run is waiting.')}
  </table>`;
}

/**
 * The analytics page: per workflow, runs started / completed / failed over the range (an SVG
 * chart and its numbers), durations p50 / p95, the most frequent errors and the runs waiting now
 * per reason.
 */
export function analyticsView(
  ctx: ViewContext,
  a: Analytics,
  workflows: string[],
  workflow?: string,
): SafeHtml {
  const charts = a.series.map((s, i) => {
    const c = chartOf(a, s, i);
    return html`<section class="workflow-chart" data-workflow="${s.workflow}">
      <h3>
        <a href="${href(ctx.base, '/runs', { workflow: s.workflow })}">${s.workflow}</a>
        <span class="muted">·</span>
        <a href="${`${ctx.base}/workflows/${seg(s.workflow)}`}">definition graph</a>
      </h3>
      ${lineChart(c)} ${chartTable(c)}
    </section>`;
  });
  const durations = a.durations.map(
    (d) =>
      html`<tr data-workflow="${d.workflow}">
        <td>${d.workflow}</td>
        <td>${d.completed}</td>
        <td data-ms="${d.p50_ms}">${span(d.p50_ms)}</td>
        <td data-ms="${d.p95_ms}">${span(d.p95_ms)}</td>
      </tr>`,
  );
  const errors = a.errors.map(
    (e) =>
      html`<tr>
        <td>${e.workflow}</td>
        <td><code>${e.error_class}</code></td>
        <td>${e.message ?? ''}</td>
        <td>${e.n}</td>
        <td>${when(e.last_at, ctx.now)}</td>
      </tr>`,
  );
  const option = (value: string, label = value) =>
    html`<option value="${value}" ${value === (workflow ?? '') ? html`selected` : ''}>
      ${label}
    </option>`;
  const content = html`<h1>Analytics</h1>
    <div class="toolbar">
      ${rangeLinks(ctx, a, workflow)}
      <form class="inline" method="get" action="${ctx.base}/analytics">
        <input type="hidden" name="range" value="${a.range}" />
        <label
          >Workflow
          <select name="workflow">
            ${option('', 'all')}${workflows.map((w) => option(w))}
          </select></label
        >
        <button type="submit" class="plain">Show</button>
      </form>
      ${refreshToggle(ctx, '/analytics', { range: a.range, workflow })}
    </div>
    <p class="muted">
      Since ${when(a.since, ctx.now)}. Started counts runs created in the range; completed and
      failed count runs that are in that state now and finished in the range.
    </p>
    <h2>Runs over time</h2>
    ${charts.length ? charts : html`<p class="muted">No run started or finished in this range.</p>`}
    <h2>Durations</h2>
    <p class="muted">From a run's first start to its completion, runs completed in the range.</p>
    <table class="durations">
      ${thead(['Workflow', 'Completed', 'p50', 'p95'])}
      ${tableBody(durations, 4, 'No run completed in this range.')}
    </table>
    <h2>Top errors</h2>
    <table class="top-errors">
      ${thead(['Workflow', 'Error', 'Message', 'Count', 'Last seen'])}
      ${tableBody(errors, 5, 'No error recorded in this range.')}
    </table>
    <h2>Waiting now</h2>
    <p class="muted">
      Idle runs by what they wait on: a lock (<code>ctx.withLock</code>), a named limit, a signal, a
      timer (sleep, waitUntil, continueIf, repeat, or a later wake-up), child runs, or nothing
      (queued: due now).
    </p>
    ${waitingTable(ctx, a)}`;
  return layout(ctx, 'analytics', 'Analytics', content);
}

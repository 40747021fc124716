import type { RunDetailRow, StepRow } from '../../inspection/run-rows.js';
import { between, json, when } from '../../web/format.util.js';
import { badge } from './layout.view.js';
import type { Page } from '../../inspection/keyset-page.js';
import { html, type SafeHtml, tableBody, thead } from '../../web/html.util.js';
import type { ViewContext } from './layout.view.js';
import { type KeptParams, pager } from './pager.view.js';

const KINDS: [string, string][] = [
  ['step$', 'step'],
  ['wait$', 'sleep'],
  ['wait_until$', 'waitUntil'],
  ['continue_if$', 'continueIf'],
  ['signal$', 'signal'],
  ['durably_repeat$', 'repeat'],
  ['branch$', 'branch'],
  ['merge$', 'merge'],
  ['event$', 'event'],
];

/** What kind of durable call a step log records. */
export function kindOf(stepName: string): string {
  return KINDS.find(([prefix]) => stepName.startsWith(prefix))?.[1] ?? 'internal';
}

const WAIT_KINDS = new Set(['sleep', 'waitUntil', 'continueIf', 'signal']);
/** Longest metadata or result JSON a timeline row prints. */
const MAX_STEP_JSON_CHARS = 4_000;
const str = (v: unknown) => (typeof v === 'string' ? v : null);
const shown = (v: unknown) =>
  v && typeof v === 'object' && 'json' in v ? (v as { json: unknown }).json : v;

/** A page of the step timeline, the run's step count, the page's URL and kept parameters. */
export interface StepPage {
  page: Page<StepRow>;
  total: number;
  url: string;
  keep: KeptParams;
}

/**
 * The step timeline: a page of step logs with attempts, duration and a bar on the run's time
 * span, and the links to the pages before and after it.
 */
export function timeline(ctx: ViewContext, run: RunDetailRow, p: StepPage): SafeHtml {
  const steps = p.page.rows;
  const t0 = new Date(run.started_at ?? run.created_at).getTime();
  const t1 = Math.max(t0 + 1, run.finished_at ? new Date(run.finished_at).getTime() : ctx.now);
  const pct = (t: number) => Math.min(100, Math.max(0, ((t - t0) / (t1 - t0)) * 100));
  const rows = steps.map((s) => {
    const start = s.started_at ? new Date(s.started_at).getTime() : null;
    const end = new Date(s.completed_at ?? s.last_executed_at ?? ctx.now).getTime();
    const left = start === null ? 0 : pct(start);
    const width = start === null ? 0 : Math.max(0.5, pct(end) - left);
    const recovered =
      s.state === 'completed' ? html`<span class="muted">last error (recovered) </span>` : '';
    const error = s.error_class
      ? html`<div>${recovered}<b>${s.error_class}</b>: ${s.error_message}</div>`
      : '';
    const extra = Object.keys(s.metadata ?? {}).length || s.result != null;
    return html`<tr data-step="${s.step_name}">
      <td><code>${s.step_name}</code></td>
      <td>${kindOf(s.step_name)}</td>
      <td>${badge(s.state)}</td>
      <td>${s.attempts}</td>
      <td>${when(s.started_at, ctx.now)}</td>
      <td>${between(s.started_at, s.completed_at)}</td>
      <td>
        <div class="bar">
          <i style="${`left:${left.toFixed(2)}%;width:${width.toFixed(2)}%`}"></i>
        </div>
      </td>
      <td>
        ${error}${
          extra
            ? html`<details>
                <summary>metadata / result</summary>
                ${json(s.metadata, MAX_STEP_JSON_CHARS)}${s.result != null ? json(shown(s.result), MAX_STEP_JSON_CHARS) : ''}
              </details>`
            : ''
        }
      </td>
    </tr>`;
  });
  const nav = pager(p.url, p.page, p.keep);
  return html`<h2 id="steps">Steps <span class="muted">(${p.total})</span></h2>
    ${nav}
    <table class="steps">
      ${thead(['Step', 'Kind', 'State', 'Attempts', 'Started', 'Took', 'Timeline', 'Details'])}
      ${tableBody(rows, 8, 'No steps yet.')}
    </table>
    ${nav}`;
}

/** Timers and waits among `steps` with their wake-up and timeout times from the step metadata. */
export function waits(ctx: ViewContext, steps: StepRow[], partial = false): SafeHtml {
  const rows = steps.filter((s) => WAIT_KINDS.has(kindOf(s.step_name)));
  if (rows.length === 0) return html``;
  return html`<h2>Waits${partial ? html` <span class="muted">(steps of this page)</span>` : ''}</h2>
    <table class="waits">
      ${thead(['Step', 'Kind', 'State', 'Wakes at', 'Times out at', 'Checks'])}
      <tbody>
        ${rows.map(
          (s) =>
            html`<tr>
              <td><code>${s.step_name}</code></td>
              <td>${kindOf(s.step_name)}</td>
              <td>${badge(s.state)}</td>
              <td>${when(str(s.metadata.wake_at), ctx.now)}</td>
              <td>
                ${when(str(s.metadata.timeout_at), ctx.now)}
                ${s.metadata.result === 'timed_out' ? html` <b>timed out</b>` : ''}
              </td>
              <td>${s.attempts}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

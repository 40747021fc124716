import type { RunDetailRow, StepRow } from '../../inspection/run-rows.js';
import { between, when } from '../../web/format.util.js';
import { html, type SafeHtml, tableBody, thead } from '../../web/html.util.js';
import { badge, layout, type ViewContext } from './layout.view.js';

/**
 * The run's rollback: what began it, then each compensation in the order it began (step, outcome,
 * attempts, time, last error), and the failures the rollback listed. Empty when none began.
 */
export function compensationTimeline(
  ctx: ViewContext,
  run: RunDetailRow,
  rows: StepRow[],
): SafeHtml {
  const record = run.compensation;
  if (!record && rows.length === 0) return html``;
  const failed = new Set((record?.failures ?? []).map((f) => f.compensation));
  const lines = rows.map(
    (c, i) =>
      html`<tr data-compensation="${c.step_name}">
        <td>${i + 1}</td>
        <td>
          ${
            c.step_name.startsWith('$compensate$')
              ? html`<code>${c.step_name.slice('$compensate$'.length)}</code>`
              : html`cleanup (<code>@OnCancel</code>)`
          }
        </td>
        <td>${badge(c.state)}${failed.has(c.step_name) ? html` <b>listed as failed</b>` : ''}</td>
        <td>${c.attempts}</td>
        <td>${when(c.started_at, ctx.now)}</td>
        <td>${between(c.started_at, c.completed_at)}</td>
        <td>${c.error_class ? html`<b>${c.error_class}</b>: ${c.error_message ?? ''}` : ''}</td>
      </tr>`,
  );
  const cause = !record
    ? html`began`
    : record.cause === 'byParent'
      ? html`began with its parent's rollback (<b>byParent</b>)`
      : html`began on <b>${record.cause}</b>`;
  return html`<h2>Compensations</h2>
    <p>Rollback ${cause}; last completed step first.</p>
    <table class="compensations">
      ${thead(['#', 'Undoes step', 'State', 'Attempts', 'Started', 'Took', 'Last error'])}
      ${tableBody(lines, 7, 'No compensation has run yet.')}
    </table>`;
}

/** The cancel page: a reason, whether to roll back and whether to cancel the run's descendants. */
export function cancelView(
  ctx: ViewContext,
  run: Pick<RunDetailRow, 'workflow' | 'key' | 'state'>,
  action: string,
  back: string,
): SafeHtml {
  const content = html`<h1>Cancel run</h1>
    <div class="notice">
      Cancel run <b>${run.workflow} ${run.key}</b> (${run.state})? This cannot be undone; a pass
      that runs stops at its next durable call.
    </div>
    <form method="post" action="${action}" class="filters">
      <input type="hidden" name="_csrf" value="${ctx.csrf}" />
      <input type="hidden" name="confirm" value="yes" />
      <label>Reason <input name="reason" maxlength="1000" size="60" /></label>
      <label
        ><span><input type="checkbox" name="compensate" value="yes" /> Compensate</span></label
      >
      <label
        ><span><input type="checkbox" name="children" value="yes" /> Also its children</span></label
      >
      <button type="submit" class="danger">Cancel run</button> <a href="${back}">Back</a>
    </form>`;
  return layout(ctx, 'runs', 'Cancel run', content);
}

import { Get, Injectable, Param, Post, Query, Redirect, Req, Res, UseGuards } from '@nestjs/common';
import { InvalidTransitionError } from '../../errors/invalid-transition.error.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import type { CancelOptions } from '../../sagas/cancel-options.interface.js';
import { confirmView } from '../views/confirm.view.js';
import { cancelView } from '../views/run-sagas.view.js';
import { BULK_RETRY_LIMIT, DashboardActions } from '../actions/dashboard-actions.service.js';
import { type QueryParams, runId, textParam } from './params.js';
import { BULK_SNAPSHOT_NOTE, bulkFilter, bulkParams } from './bulk-filter.js';
import { allowedFrom } from '../../client/transitions.js';
import { ViewContexts } from './view-contexts.js';
import { CsrfGuard } from './dashboard.guards.js';
import { RunListStore } from '../../inspection/run-list.store.js';
import { href, html, seg } from '../../web/html.util.js';
import { type WebRequest, type WebResponse, readForm } from '../../web/request.util.js';
import { sendHtml } from '../../web/send-html.js';

/** Where a POST sends the browser (303 See Other). */
type Redirection = { url: string; statusCode: number };

/** The cancel form's reason (at most 1000 characters), rollback and descendants choices. */
async function cancelOptions(req: WebRequest): Promise<CancelOptions> {
  const form = await readForm(req);
  const reason = form.reason?.trim() ? textParam(form.reason.trim(), 'reason', 1000) : undefined;
  const compensate = form.compensate === 'yes' ? true : undefined;
  return { reason, compensate, children: form.children === 'yes' };
}

/** The filter of a bulk retry: the failed or stalled runs of a workflow (see {@link bulkFilter}). */
const bulkRetryFilter = (src: QueryParams) => bulkFilter(src, allowedFrom('retry'), 'retry');

/** States an action that needs confirmation accepts. */
const CONFIRMED: Record<string, ('idle' | 'running' | 'stalled')[]> = {
  unlock: ['idle', 'running'],
  cancel: ['idle', 'running', 'stalled'],
};

/**
 * The dashboard's actions: confirmation pages (GET) and the POST forms, each behind the CSRF
 * check. Mounted like {@link DashboardController}.
 */
@Injectable()
export class DashboardActionsController {
  constructor(
    private readonly views: ViewContexts,
    private readonly store: RunListStore,
    private readonly actions: DashboardActions,
  ) {}

  @Get('runs/:id/confirm/:action')
  async confirm(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Param('id') id: string,
    @Param('action') action: string,
  ) {
    const run = await this.store.identify(runId(id));
    const allowed = CONFIRMED[action];
    if (!allowed) throw new WorkflowNotFoundError(`No action "${action}".`);
    if (!(allowed as string[]).includes(run.state)) {
      throw new InvalidTransitionError(run.key, run.state, action, allowed);
    }
    const ctx = this.views.of(req, res);
    const url = `${ctx.base}/runs/${seg(id)}`;
    const what = html`<b>${run.workflow} ${run.key}</b> (${run.state})`;
    const page =
      action === 'unlock'
        ? confirmView(
            ctx,
            'Unlock run',
            html`Unlock run ${what}? Its lock is cleared and it becomes idle and due now. A pass
            still running elsewhere loses its lock and can no longer write; the next pass replays
            from the log.`,
            `${url}/unlock`,
            'Unlock',
            url,
          )
        : cancelView(ctx, run, `${url}/cancel`, url);
    return sendHtml(res, page);
  }

  @Get('bulk-retry')
  async bulkConfirm(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const filter = bulkRetryFilter(q);
    const { n, ids } = await this.store.countMatching(filter, BULK_RETRY_LIMIT);
    const now = Math.min(n, BULK_RETRY_LIMIT);
    const ctx = this.views.of(req, res, q);
    const why = html`Retry <b class="count">${n}</b> ${filter.states.join(' or ')} run(s) of
      <b>${filter.workflow}</b
      >${filter.key ? html` with a key starting with <b>${filter.key}</b>` : ''}? Each one becomes
      idle with fresh retry budgets and is queued.
      ${n > now ? html`This click retries the oldest <b>${now}</b>; click again for the rest.` : ''}
      ${BULK_SNAPSHOT_NOTE}`;
    const back = href(ctx.base, '/runs', bulkParams(filter));
    const page = confirmView(
      ctx,
      'Bulk retry',
      why,
      `${ctx.base}/bulk-retry`,
      `Retry ${now} run(s)`,
      back,
      { ...bulkParams(filter), ids: ids.join(',') },
      n === 0,
    );
    return sendHtml(res, page);
  }

  @Post('runs/:id/:action')
  @UseGuards(CsrfGuard)
  @Redirect()
  async act(
    @Req() req: WebRequest,
    @Param('id') id: string,
    @Param('action') action: string,
  ): Promise<Redirection> {
    const url = `${this.views.base(req)}/runs/${seg(runId(id))}`;
    const confirmed = (await readForm(req)).confirm === 'yes';
    if (CONFIRMED[action] && !confirmed)
      return { url: `${url}/confirm/${action}`, statusCode: 303 };
    if (action === 'retry') await this.actions.retry(id);
    else if (action === 'resume') await this.actions.resume(id);
    else if (action === 'cancel') await this.actions.cancel(id, await cancelOptions(req));
    else if (action === 'unlock') await this.actions.unlock(id);
    else throw new WorkflowNotFoundError(`No action "${action}".`);
    const notice = { retry: 'retried', resume: 'resumed', cancel: 'cancelled', unlock: 'unlocked' }[
      action
    ];
    return { url: href(url, '', { notice }), statusCode: 303 };
  }

  @Post('bulk-retry')
  @UseGuards(CsrfGuard)
  @Redirect()
  async bulkRetry(@Req() req: WebRequest): Promise<Redirection> {
    const base = this.views.base(req);
    const form = await readForm(req);
    const filter = bulkRetryFilter(form);
    if (form.confirm !== 'yes' || filter.ids === undefined)
      return { url: href(base, '/bulk-retry', bulkParams(filter)), statusCode: 303 };
    const { retried } = await this.actions.bulkRetry(filter);
    const skipped = filter.ids.length - retried; // listed, but moved on since
    return {
      url: href(base, '/runs', {
        workflow: filter.workflow,
        notice: 'bulk',
        n: retried,
        skipped: skipped || undefined,
      }),
      statusCode: 303,
    };
  }
}

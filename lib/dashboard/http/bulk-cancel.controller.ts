import { Get, Injectable, Post, Query, Redirect, Req, Res, UseGuards } from '@nestjs/common';
import { allowedFrom } from '../../client/transitions.js';
import { type BulkFilter, RunListStore } from '../../inspection/run-list.store.js';
import { href, html } from '../../web/html.util.js';
import { type WebRequest, type WebResponse, readForm } from '../../web/request.util.js';
import { sendHtml } from '../../web/send-html.js';
import {
  BULK_CANCEL_LIMIT,
  BULK_CANCEL_REASON,
  DashboardActions,
} from '../actions/dashboard-actions.service.js';
import { confirmView } from '../views/confirm.view.js';
import { CsrfGuard } from './dashboard.guards.js';
import { BULK_SNAPSHOT_NOTE, bulkFilter, bulkParams } from './bulk-filter.js';
import type { QueryParams } from './params.js';
import { ViewContexts } from './view-contexts.js';

/** The filter of a bulk cancel: the runs of a workflow it can cancel (see {@link bulkFilter}). */
export const bulkCancelFilter = (src: QueryParams): BulkFilter =>
  bulkFilter(src, allowedFrom('cancel'), 'cancel');

/**
 * Bulk cancel by filter: a confirmation page stating the exact number of matching runs (GET), and
 * the POST form behind the CSRF check. Mounted like `DashboardController`.
 */
@Injectable()
export class BulkCancelController {
  constructor(
    private readonly views: ViewContexts,
    private readonly store: RunListStore,
    private readonly actions: DashboardActions,
  ) {}

  @Get('bulk-cancel')
  async confirm(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const filter = bulkCancelFilter(q);
    const { n, ids } = await this.store.countMatching(filter, BULK_CANCEL_LIMIT);
    const now = Math.min(n, BULK_CANCEL_LIMIT);
    const ctx = this.views.of(req, res, q);
    const why = html`Cancel <b class="count">${n}</b> run(s) of
      <b>${filter.workflow}</b>
      (${filter.states.join(' or ')}${filter.key ? html`, key starting with <b>${filter.key}</b>` : ''})?
      Each one ends <b>cancelled</b> with the reason "${BULK_CANCEL_REASON}"; its workflow's
      <code>compensateOn</code> decides whether it rolls back, and its children are left running.
      ${n > now ? html`This click cancels the oldest <b>${now}</b>; click again for the rest.` : ''}
      ${BULK_SNAPSHOT_NOTE}`;
    const back = href(ctx.base, '/runs', bulkParams(filter));
    const page = confirmView(
      ctx,
      'Bulk cancel',
      why,
      `${ctx.base}/bulk-cancel`,
      `Cancel ${now} run(s)`,
      back,
      { ...bulkParams(filter), ids: ids.join(',') },
      n === 0,
    );
    return sendHtml(res, page);
  }

  @Post('bulk-cancel')
  @UseGuards(CsrfGuard)
  @Redirect()
  async cancel(@Req() req: WebRequest): Promise<{ url: string; statusCode: number }> {
    const base = this.views.base(req);
    const form = await readForm(req);
    const filter = bulkCancelFilter(form);
    if (form.confirm !== 'yes' || filter.ids === undefined)
      return { url: href(base, '/bulk-cancel', bulkParams(filter)), statusCode: 303 };
    const { cancelled } = await this.actions.bulkCancel(filter);
    const skipped = filter.ids.length - cancelled; // listed, but ended or moved on since
    return {
      url: href(base, '/runs', {
        workflow: filter.workflow,
        notice: 'bulk-cancel',
        n: cancelled,
        skipped: skipped || undefined,
      }),
      statusCode: 303,
    };
  }
}

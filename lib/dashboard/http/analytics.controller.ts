import { Get, Injectable, Query, Req, Res } from '@nestjs/common';
import { AnalyticsStore, analyticsRange } from '../../inspection/analytics.store.js';
import { RunListStore } from '../../inspection/run-list.store.js';
import type { WebRequest, WebResponse } from '../../web/request.util.js';
import { sendHtml } from '../../web/send-html.js';
import { analyticsView } from '../views/analytics.view.js';
import { one, type QueryParams } from './params.js';
import { ViewContexts } from './view-contexts.js';

/** The analytics page (`?range=1h|24h|7d&workflow=`). Mounted like `DashboardController`. */
@Injectable()
export class AnalyticsController {
  constructor(
    private readonly views: ViewContexts,
    private readonly store: AnalyticsStore,
    private readonly runs: RunListStore,
  ) {}

  @Get('analytics')
  async analytics(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const range = analyticsRange(one(q, 'range'));
    const workflow = one(q, 'workflow');
    const ctx = this.views.of(req, res, q);
    const [data, names] = await Promise.all([
      this.store.read(range, workflow, ctx.now),
      this.runs.workflowNames(),
    ]);
    return sendHtml(res, analyticsView(ctx, data, names, workflow));
  }
}

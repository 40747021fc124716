import { Get, Injectable, Query, Req, Res } from '@nestjs/common';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { attributesOf, beforeOf, one, type QueryParams, stateOf } from './params.js';
import { ViewContexts } from './view-contexts.js';
import { RunListStore } from '../../inspection/run-list.store.js';
import { overviewView } from '../views/overview.view.js';
import type { WebRequest, WebResponse } from '../../web/request.util.js';
import { runsView, strandedView } from '../views/runs.view.js';
import { sendHtml } from '../../web/send-html.js';

/**
 * The dashboard's overview and run lists, relative to the configured path. `ChronoForgeDashboardModule.forRoot()`
 * mounts a subclass with the path, the access guard and the error filter.
 */
@Injectable()
export class DashboardController {
  constructor(
    private readonly views: ViewContexts,
    private readonly store: RunListStore,
  ) {}

  private get pageSize(): number {
    return this.views.options.pageSize;
  }

  @Get()
  async overview(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    return sendHtml(res, overviewView(this.views.of(req, res, q), await this.store.overview()));
  }

  @Get('runs')
  async runs(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const key = one(q, 'key');
    const workflow = one(q, 'workflow');
    if ((key?.length ?? 0) > 512 || (workflow?.length ?? 0) > 200)
      throw new InvalidOptionsError('Filter too long.');
    const { terms, attributes } = attributesOf(q);
    const filter = { state: stateOf(q), workflow, key, before: beforeOf(q), attr: terms };
    const [names, runs] = await Promise.all([
      this.store.workflowNames(),
      this.store.list({ ...filter, attributes }, this.pageSize),
    ]);
    return sendHtml(res, runsView(this.views.of(req, res, q), filter, names, runs, this.pageSize));
  }

  @Get('stranded')
  async stranded(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const before = beforeOf(q);
    const runs = await this.store.stranded(before, this.pageSize);
    return sendHtml(res, strandedView(this.views.of(req, res, q), runs, before, this.pageSize));
  }
}

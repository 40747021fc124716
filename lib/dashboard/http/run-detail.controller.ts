import { Get, Injectable, Param, Query, Req, Res } from '@nestjs/common';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import { REPEATS_SHOWN, RunDetailStore } from '../data/run-detail.store.js';
import { RunPagesStore } from '../data/run-pages.store.js';
import { branchesView } from '../views/branch-summary.view.js';
import { branchView } from '../views/branch.view.js';
import { errorsView } from '../views/error-log.view.js';
import { runDetailView } from '../views/run-detail.view.js';
import {
  nameParam,
  type QueryParams,
  runId,
  stateOf,
  ViewContexts,
} from './dashboard-request.util.js';
import { keptSize, pageOf, RUN_LIST_PAGE_SIZE } from './page-params.js';
import type { DashboardRequest, DashboardResponse } from './request.util.js';
import { sendHtml } from './send-html.js';

/** Newest errors and first branches the run page shows (the rest is on their own pages). */
const ERRORS_SHOWN = 10;
const BRANCHES_SHOWN = 20;

/**
 * A run's pages: the run (a page of its steps), its errors, its branches and one branch with a
 * page of its children; every list is keyset-paged. Mounted like `DashboardController`.
 */
@Injectable()
export class RunDetailController {
  constructor(
    private readonly views: ViewContexts,
    private readonly details: RunDetailStore,
    private readonly pages: RunPagesStore,
  ) {}

  @Get('runs/:id')
  async run(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    const stepPage = pageOf(q, RUN_LIST_PAGE_SIZE);
    const run = await this.details.run(runId(id));
    const [steps, total, errors, errorCount, branches, ancestors, coords] = await Promise.all([
      this.pages.steps(id, stepPage),
      this.pages.stepCount(id),
      this.pages.errors(id, { size: ERRORS_SHOWN }),
      this.pages.errorCount(id),
      this.pages.branches(id, { size: BRANCHES_SHOWN }),
      this.details.ancestors(id),
      this.details.repeatCoords(id, REPEATS_SHOWN + 1),
    ]);
    const repeats = await Promise.all(
      coords
        .slice(0, REPEATS_SHOWN)
        .map(async (coord) => ({ coord, ...(await this.details.ticks(id, coord.step_name)) })),
    );
    const data = {
      run,
      steps: { page: steps, total, keep: keptSize(q) },
      errors,
      errorCount,
      branches,
      ancestors,
      repeats,
      moreRepeats: coords.length > REPEATS_SHOWN,
    };
    return sendHtml(res, runDetailView(this.views.of(req, res, q), data));
  }

  @Get('runs/:id/errors')
  async errors(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    const page = pageOf(q, RUN_LIST_PAGE_SIZE);
    const run = await this.details.run(runId(id));
    const [errors, total] = await Promise.all([
      this.pages.errors(id, page),
      this.pages.errorCount(id),
    ]);
    return sendHtml(res, errorsView(this.views.of(req, res, q), run, errors, total, keptSize(q)));
  }

  @Get('runs/:id/branches')
  async branches(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    const page = pageOf(q, RUN_LIST_PAGE_SIZE);
    const run = await this.details.run(runId(id));
    const branches = await this.pages.branches(id, page);
    return sendHtml(res, branchesView(this.views.of(req, res, q), run, branches, keptSize(q)));
  }

  @Get('runs/:id/branches/:name')
  async branch(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Param('id') id: string,
    @Param('name') name: string,
    @Query() q: QueryParams,
  ) {
    const state = stateOf(q);
    const page = pageOf(q, this.views.options.pageSize);
    const parent = await this.details.run(runId(id));
    const {
      rows: [branch],
    } = await this.pages.branches(id, { size: 1 }, nameParam(name, 'branch'));
    if (!branch) throw new WorkflowNotFoundError(`Run ${id} has no branch "${name}".`);
    const [merge, children] = await Promise.all([
      this.details.mergeOf(id, name),
      this.pages.children(branch.log_id, state, page),
    ]);
    const keep = { state, ...keptSize(q) };
    const data = { parent, branch, merge, state, children, keep };
    return sendHtml(res, branchView(this.views.of(req, res, q), data));
  }
}

import { Get, Injectable, Param, Query, Req, Res } from '@nestjs/common';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import { branchView } from '../views/branch.view.js';
import {
  beforeOf,
  nameParam,
  one,
  type QueryParams,
  runId,
  stateOf,
  ViewContexts,
} from './dashboard-request.util.js';
import { DashboardStore } from '../data/dashboard.store.js';
import { overviewView } from '../views/overview.view.js';
import type { DashboardRequest, DashboardResponse } from './request.util.js';
import { RunDetailStore } from '../data/run-detail.store.js';
import { runDetailView } from '../views/run-detail.view.js';
import { kindOf } from '../views/run-steps.view.js';
import { runsView, strandedView } from '../views/runs.view.js';
import { sendHtml } from './send-html.js';

/**
 * The dashboard's pages, relative to the configured path. `ChronoForgeDashboardModule.forRoot()`
 * mounts a subclass with the path, the access guard and the error filter.
 */
@Injectable()
export class DashboardController {
  constructor(
    private readonly views: ViewContexts,
    private readonly store: DashboardStore,
    private readonly details: RunDetailStore,
  ) {}

  private get pageSize(): number {
    return this.views.options.pageSize;
  }

  @Get()
  async overview(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Query() q: QueryParams,
  ) {
    return sendHtml(res, overviewView(this.views.of(req, res, q), await this.store.overview()));
  }

  @Get('runs')
  async runs(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Query() q: QueryParams,
  ) {
    const key = one(q, 'key');
    const workflow = one(q, 'workflow');
    if ((key?.length ?? 0) > 512 || (workflow?.length ?? 0) > 200)
      throw new InvalidOptionsError('Filter too long.');
    const filter = { state: stateOf(q), workflow, key, before: beforeOf(q) };
    const [names, runs] = await Promise.all([
      this.store.workflowNames(),
      this.store.list(filter, this.pageSize),
    ]);
    return sendHtml(res, runsView(this.views.of(req, res, q), filter, names, runs, this.pageSize));
  }

  @Get('stranded')
  async stranded(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Query() q: QueryParams,
  ) {
    const before = beforeOf(q);
    const runs = await this.store.stranded(before, this.pageSize);
    return sendHtml(res, strandedView(this.views.of(req, res, q), runs, before, this.pageSize));
  }

  @Get('runs/:id')
  async run(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    const run = await this.details.run(runId(id));
    const [steps, errors, branches, ancestors] = await Promise.all([
      this.details.steps(id),
      this.details.errors(id),
      this.details.branches(id),
      this.details.ancestors(id),
    ]);
    const coords = steps.filter((s) => kindOf(s.step_name) === 'repeat');
    const repeats = await Promise.all(
      coords.map(async (coord) => ({ coord, ...(await this.details.ticks(id, coord.step_name)) })),
    );
    const data = { run, steps, errors, branches, ancestors, repeats };
    return sendHtml(res, runDetailView(this.views.of(req, res, q), data));
  }

  @Get('runs/:id/branches/:name')
  async branch(
    @Req() req: DashboardRequest,
    @Res({ passthrough: true }) res: DashboardResponse,
    @Param('id') id: string,
    @Param('name') name: string,
    @Query() q: QueryParams,
  ) {
    const parent = await this.details.run(runId(id));
    const [branch] = await this.details.branches(id, nameParam(name, 'branch'));
    if (!branch) throw new WorkflowNotFoundError(`Run ${id} has no branch "${name}".`);
    const state = stateOf(q);
    const before = beforeOf(q);
    const steps = await this.details.steps(id);
    const merge = steps.find(
      (s) => s.step_name.startsWith('merge$') && s.step_name.slice(6).split(',').includes(name),
    );
    const children = await this.details.children(branch.log_id, state, before, this.pageSize);
    const data = { parent, branch, merge, state, before, children, pageSize: this.pageSize };
    return sendHtml(res, branchView(this.views.of(req, res, q), data));
  }
}

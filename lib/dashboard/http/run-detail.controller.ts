import { Get, Injectable, Param, Query, Req, Res } from '@nestjs/common';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import { pageOf, type PageRequest } from '../../inspection/keyset-page.js';
import { REPEATS_SHOWN, RunDetailStore } from '../../inspection/run-detail.store.js';
import { RunPagesStore } from '../../inspection/run-pages.store.js';
import type { RunDetailRow } from '../../inspection/run-rows.js';
import type { SafeHtml } from '../../web/html.util.js';
import type { WebRequest, WebResponse } from '../../web/request.util.js';
import { sendHtml } from '../../web/send-html.js';
import { branchesView } from '../views/branch-summary.view.js';
import { branchView } from '../views/branch.view.js';
import { errorsView } from '../views/error-log.view.js';
import type { ViewContext } from '../views/layout.view.js';
import type { KeptParams } from '../views/pager.view.js';
import { runDetailView } from '../views/run-detail.view.js';
import {
  keptSize,
  nameParam,
  type QueryParams,
  RUN_LIST_PAGE_SIZE,
  runId,
  stateOf,
} from './params.js';
import { ViewContexts } from './view-contexts.js';

/** Newest errors and first branches the run page shows (the rest is on their own pages). */
const ERRORS_SHOWN = 10;
const BRANCHES_SHOWN = 20;
/** Compensations the run page lists (a rollback undoes each completed step once). */
const COMPENSATIONS_SHOWN = 200;

/** What a page of a run is rendered from: the request's view context, the run, a page request. */
interface RunPageInput {
  ctx: ViewContext;
  run: RunDetailRow;
  page: PageRequest;
  keep: KeptParams;
}

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

  /** Reads the run `id` and the page the query asks for, renders `view` and sends it. */
  private async runPage(
    req: WebRequest,
    res: WebResponse,
    id: string,
    q: QueryParams,
    view: (input: RunPageInput) => Promise<SafeHtml>,
    pageSize = RUN_LIST_PAGE_SIZE,
  ): Promise<string> {
    const page = pageOf(q, pageSize);
    const run = await this.details.run(runId(id));
    const ctx = this.views.of(req, res, q);
    return sendHtml(res, await view({ ctx, run, page, keep: keptSize(q) }));
  }

  @Get('runs/:id')
  run(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    return this.runPage(req, res, id, q, async ({ ctx, run, page, keep }) => {
      const [steps, total, errors, errorCount, branches, ancestors, coords, compensations] =
        await Promise.all([
          this.pages.steps(id, page),
          this.pages.stepCount(id),
          this.pages.errors(id, { size: ERRORS_SHOWN }),
          this.pages.errorCount(id),
          this.pages.branches(id, { size: BRANCHES_SHOWN }),
          this.details.ancestors(id),
          this.details.repeatCoords(id, REPEATS_SHOWN + 1),
          this.details.compensations(id, COMPENSATIONS_SHOWN),
        ]);
      const repeats = await Promise.all(
        coords
          .slice(0, REPEATS_SHOWN)
          .map(async (coord) => ({ coord, ...(await this.details.ticks(id, coord.step_name)) })),
      );
      const moreRepeats = coords.length > REPEATS_SHOWN;
      const data = { run, steps: { page: steps, total, keep }, errors, errorCount, branches };
      return runDetailView(ctx, { ...data, ancestors, repeats, moreRepeats, compensations });
    });
  }

  @Get('runs/:id/errors')
  errors(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    return this.runPage(req, res, id, q, async ({ ctx, run, page, keep }) => {
      const [errors, total] = await Promise.all([
        this.pages.errors(id, page),
        this.pages.errorCount(id),
      ]);
      return errorsView(ctx, run, errors, total, keep);
    });
  }

  @Get('runs/:id/branches')
  branches(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Param('id') id: string,
    @Query() q: QueryParams,
  ) {
    return this.runPage(req, res, id, q, async ({ ctx, run, page, keep }) =>
      branchesView(ctx, run, await this.pages.branches(id, page), keep),
    );
  }

  @Get('runs/:id/branches/:name')
  branch(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Param('id') id: string,
    @Param('name') name: string,
    @Query() q: QueryParams,
  ) {
    const state = stateOf(q);
    const view = async ({ ctx, run: parent, page, keep }: RunPageInput) => {
      const {
        rows: [branch],
      } = await this.pages.branches(id, { size: 1 }, nameParam(name, 'branch'));
      if (!branch) throw new WorkflowNotFoundError(`Run ${id} has no branch "${name}".`);
      const [merge, children] = await Promise.all([
        this.details.mergeOf(id, name),
        this.pages.children(branch.log_id, state, page),
      ]);
      const data = { parent, branch, merge, state, children, keep: { state, ...keep } };
      return branchView(ctx, data);
    };
    return this.runPage(req, res, id, q, view, this.views.options.pageSize);
  }
}

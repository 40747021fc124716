import { Get, Injectable, Param, Query, Req, Res } from '@nestjs/common';
import type { WebRequest, WebResponse } from '../../web/request.util.js';
import { sendHtml } from '../../web/send-html.js';
import { WorkflowGraphs } from '../data/workflow-graphs.js';
import { graphView } from '../views/graph.view.js';
import { nameParam, type QueryParams } from './params.js';
import { ViewContexts } from './view-contexts.js';

/** The definition graph of a workflow (`workflows/:name`). Mounted like `DashboardController`. */
@Injectable()
export class WorkflowGraphController {
  constructor(
    private readonly views: ViewContexts,
    private readonly graphs: WorkflowGraphs,
  ) {}

  @Get('workflows/:name')
  async graph(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Param('name') name: string,
    @Query() q: QueryParams,
  ) {
    const graph = await this.graphs.graph(nameParam(name, 'workflow'));
    return sendHtml(res, graphView(this.views.of(req, res, q), graph));
  }
}

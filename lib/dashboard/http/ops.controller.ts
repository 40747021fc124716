import { Get, Injectable, Param, Post, Query, Redirect, Req, Res, UseGuards } from '@nestjs/common';
import { WorkflowClient } from '../../client/workflow.client.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import { href } from '../../web/html.util.js';
import type { WebRequest, WebResponse } from '../../web/request.util.js';
import { sendHtml } from '../../web/send-html.js';
import { limitsView, schedulesView } from '../views/ops.view.js';
import { CsrfGuard } from './dashboard.guards.js';
import { nameParam, type QueryParams } from './params.js';
import { ViewContexts } from './view-contexts.js';

/** What a schedule button does, and the notice it leaves. */
const SCHEDULE_ACTIONS = {
  pause: (c: WorkflowClient, name: string) => c.schedules.pause(name),
  resume: (c: WorkflowClient, name: string) => c.schedules.resume(name),
  trigger: (c: WorkflowClient, name: string) => c.schedules.trigger(name),
};

/** The schedules and limits pages, and the schedule buttons. Mounted like `DashboardController`. */
@Injectable()
export class OpsController {
  constructor(
    private readonly views: ViewContexts,
    private readonly client: WorkflowClient,
  ) {}

  @Get('schedules')
  async schedules(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const list = await this.client.schedules.list();
    return sendHtml(res, schedulesView(this.views.of(req, res, q), list));
  }

  @Get('limits')
  async limits(
    @Req() req: WebRequest,
    @Res({ passthrough: true }) res: WebResponse,
    @Query() q: QueryParams,
  ) {
    const list = await this.client.limits.list();
    return sendHtml(res, limitsView(this.views.of(req, res, q), list));
  }

  @Post('schedules/:name/:action')
  @UseGuards(CsrfGuard)
  @Redirect()
  async act(
    @Req() req: WebRequest,
    @Param('name') name: string,
    @Param('action') action: string,
  ): Promise<{ url: string; statusCode: number }> {
    const run = SCHEDULE_ACTIONS[action as keyof typeof SCHEDULE_ACTIONS];
    if (!Object.hasOwn(SCHEDULE_ACTIONS, action))
      throw new WorkflowNotFoundError(`No schedule action "${action}".`);
    await run(this.client, nameParam(name, 'schedule'));
    const url = `${this.views.base(req)}/schedules`;
    return { url: href(url, '', { notice: `schedule-${action}` }), statusCode: 303 };
  }
}

import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
  Logger,
} from '@nestjs/common';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { InvalidTransitionError } from '../../errors/invalid-transition.error.js';
import { ScheduleNotFoundError } from '../../errors/schedule-not-found.error.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import { errorView } from '../views/confirm.view.js';
import { CsrfTokenError } from '../../web/csrf-token.error.js';
import { DashboardAccessDeniedError } from './dashboard-access-denied.error.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ResolvedDashboardOptions,
} from '../options/dashboard-options.interface.js';
import {
  basePath,
  type WebRequest,
  type WebResponse,
  setResponseHeader,
} from '../../web/request.util.js';
import { PAGE_HEADERS } from '../../web/send-html.js';

/** Minimal response interface of Express and of Fastify's reply. */
interface StatusResponse extends WebResponse {
  status(code: number): StatusResponse;
  send(body: string): unknown;
  /** Express */
  headersSent?: boolean;
  /** Fastify */
  sent?: boolean;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
};

/** The HTTP status and safe message of an error raised while serving the dashboard. */
export function statusOf(err: unknown): { status: number; message: string } {
  if (err instanceof CsrfTokenError || err instanceof DashboardAccessDeniedError)
    return { status: 403, message: err.message };
  if (err instanceof WorkflowNotFoundError || err instanceof ScheduleNotFoundError)
    return { status: 404, message: err.message };
  if (err instanceof InvalidTransitionError) return { status: 409, message: err.message };
  if (err instanceof InvalidOptionsError) return { status: 400, message: err.message };
  if (err instanceof HttpException) {
    const status = err.getStatus();
    return {
      status,
      message: status === 403 ? 'Access to the ChronoForge dashboard was denied.' : err.message,
    };
  }
  return { status: 500, message: 'Internal error; see the server log.' };
}

/** Renders every error of the dashboard's routes as an HTML page with the right status. */
@Catch()
export class DashboardExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ChronoForgeDashboard');

  constructor(
    @Inject(CHRONO_FORGE_DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<StatusResponse>();
    const { status, message } = statusOf(err);
    if (status >= 500)
      this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    if (res.headersSent || res.sent) return;
    const base = basePath(http.getRequest<WebRequest>(), this.options.path);
    const page = errorView({ base, now: Date.now() }, status, TITLES[status] ?? 'Error', message);
    for (const [name, value] of Object.entries(PAGE_HEADERS)) setResponseHeader(res, name, value);
    res.status(status).send(page.value);
  }
}

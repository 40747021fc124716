import { Inject, Injectable } from '@nestjs/common';
import { CsrfTokens } from '../../web/csrf-tokens.js';
import { basePath, type WebRequest, type WebResponse } from '../../web/request.util.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ResolvedDashboardOptions,
} from '../options/dashboard-options.interface.js';
import type { ViewContext } from '../views/layout.view.js';
import { one, type QueryParams } from './params.js';

/** Fixed notices shown after an action (the query only selects one; its text never comes from the URL). */
const NOTICES: Record<string, string> = {
  retried: 'Retry requested: the run is idle and queued again.',
  resumed: 'Resume requested: the run re-evaluates what it waits on.',
  cancelled: 'The run was cancelled.',
  unlocked: 'Lock cleared: the run is idle and queued to run now.',
  bulk: 'Bulk retry done.',
  'schedule-pause': 'Schedule paused.',
  'schedule-resume': 'Schedule resumed: it fires again from its next tick.',
  'schedule-trigger': 'Tick requested: a worker starts its run within the poll interval.',
};

/** Builds the {@link ViewContext} of a request: mount path, CSRF token (cookie set if new), notice. */
@Injectable()
export class ViewContexts {
  constructor(
    @Inject(CHRONO_FORGE_DASHBOARD_OPTIONS) readonly options: ResolvedDashboardOptions,
    private readonly csrf: CsrfTokens,
  ) {}

  /** The dashboard's URL path for this request. */
  base(req: WebRequest): string {
    return basePath(req, this.options.path);
  }

  of(req: WebRequest, res: WebResponse, q: QueryParams = {}): ViewContext {
    const base = this.base(req);
    let notice = NOTICES[one(q, 'notice') ?? ''];
    const n = one(q, 'n');
    if (notice && n && /^\d{1,6}$/.test(n)) notice += ` ${n} run(s) retried.`;
    return { base, csrf: this.csrf.issue(req, res, base), now: Date.now(), notice };
  }
}

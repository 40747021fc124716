import { Inject, Injectable } from '@nestjs/common';
import { CsrfTokens } from '../../web/csrf-tokens.js';
import { basePath, type WebRequest, type WebResponse } from '../../web/request.util.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ResolvedDashboardOptions,
} from '../options/dashboard-options.interface.js';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { ViewContext } from '../views/layout.view.js';
import { REFRESH_SECONDS } from '../views/refresh.view.js';
import { one, type QueryParams } from './params.js';

/** Fixed notices shown after an action (the query only selects one; its text never comes from the URL). */
const NOTICES: Record<string, string> = {
  retried: 'Retry requested: the run is idle and queued again.',
  resumed: 'Resume requested: the run re-evaluates what it waits on.',
  cancelled: 'The run was cancelled.',
  unlocked: 'Lock cleared: the run is idle and queued to run now.',
  bulk: 'Bulk retry done.',
  'bulk-cancel': 'Bulk cancel done.',
  'schedule-pause': 'Schedule paused.',
  'schedule-resume': 'Schedule resumed: it fires again from its next tick.',
  'schedule-trigger': 'Tick requested: a worker starts its run within the poll interval.',
};

/** The `refresh` parameter: one of {@link REFRESH_SECONDS}, or none. */
export function refreshOf(q: QueryParams): number | undefined {
  const value = one(q, 'refresh');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!REFRESH_SECONDS.includes(seconds) || String(seconds) !== value)
    throw new InvalidOptionsError(`"refresh" must be one of ${REFRESH_SECONDS.join(', ')}.`);
  return seconds;
}

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
    const key = one(q, 'notice');
    // NOTE: own keys only, so `?notice=constructor` shows nothing rather than Object's source.
    let notice = key && Object.hasOwn(NOTICES, key) ? NOTICES[key] : undefined;
    const n = one(q, 'n');
    const skipped = one(q, 'skipped');
    if (notice && n && /^\d{1,6}$/.test(n)) {
      notice += ` ${n} run(s) ${notice.includes('cancel') ? 'cancelled' : 'retried'}`;
      notice +=
        skipped && /^[1-9]\d{0,5}$/.test(skipped)
          ? `, ${skipped} skipped (they had moved on since the confirmation).`
          : '.';
    }
    const csrf = this.csrf.issue(req, res, base);
    return { base, csrf, now: Date.now(), notice, refresh: refreshOf(q) };
  }
}

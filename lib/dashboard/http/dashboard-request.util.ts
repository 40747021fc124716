import { Inject, Injectable } from '@nestjs/common';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import type { WorkflowState } from '../../database/entities/workflow.entity.js';
import { MAX_KEY_LENGTH } from '../../definitions/client-arguments.js';
import { unstorableText } from '../../util/serialization.util.js';
import { CsrfTokens } from './csrf-tokens.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ResolvedDashboardOptions,
} from '../options/dashboard-options.interface.js';
import type { ViewContext } from '../views/layout.view.js';
import { STATES } from '../views/overview.view.js';
import { basePath, type DashboardRequest, type DashboardResponse } from './request.util.js';

/** Query parameters as Nest passes them. */
export type QueryParams = Record<string, string | string[] | undefined>;

/** Fixed notices shown after an action (the query only selects one; its text never comes from the URL). */
const NOTICES: Record<string, string> = {
  retried: 'Retry requested: the run is idle and queued again.',
  resumed: 'Resume requested: the run re-evaluates what it waits on.',
  cancelled: 'The run was cancelled.',
  unlocked: 'Lock cleared: the run is idle and queued to run now.',
  bulk: 'Bulk retry done.',
};

/** Longest workflow or branch name (as `assertUserName` allows). */
const MAX_NAME_LENGTH = 200;

/**
 * Checks a text parameter from the URL or a form: at most `max` characters and storable text (no
 * NUL, no lone surrogate); throws `InvalidOptionsError` (400) instead of letting PostgreSQL fail.
 */
export function textParam(value: string, name: string, max = MAX_KEY_LENGTH): string {
  if (value.length > max)
    throw new InvalidOptionsError(`"${name}" is longer than ${max} characters.`);
  const why = unstorableText(value);
  if (why) throw new InvalidOptionsError(`"${name}" ${why}.`);
  return value;
}

/** A workflow or branch name from the URL or a form, checked by {@link textParam}. */
export function nameParam(value: string, name: string): string {
  return textParam(value, name, MAX_NAME_LENGTH);
}

/** A non-empty single query value, checked by {@link textParam}. */
export function one(q: QueryParams, name: string): string | undefined {
  const v = q[name];
  if (typeof v !== 'string' || v === '') return undefined;
  return name === 'workflow' ? nameParam(v, name) : textParam(v, name);
}

/** A run id from the path, or `WorkflowNotFoundError`. */
export function runId(id: string): string {
  if (!/^\d{1,18}$/.test(id))
    throw new WorkflowNotFoundError(`No run with id ${JSON.stringify(id)}.`);
  return id;
}

/** The `state` filter, validated. */
export function stateOf(q: QueryParams): WorkflowState | undefined {
  const s = one(q, 'state');
  if (s !== undefined && !STATES.includes(s as WorkflowState)) {
    throw new InvalidOptionsError(`Unknown state "${s}".`);
  }
  return s as WorkflowState | undefined;
}

/** The `before` keyset cursor, validated. */
export function beforeOf(q: QueryParams): string | undefined {
  const b = one(q, 'before');
  if (b !== undefined && !/^\d{1,18}$/.test(b))
    throw new InvalidOptionsError('"before" must be a run id.');
  return b;
}

/** Builds the {@link ViewContext} of a request: mount path, CSRF token (cookie set if new), notice. */
@Injectable()
export class ViewContexts {
  constructor(
    @Inject(CHRONO_FORGE_DASHBOARD_OPTIONS) readonly options: ResolvedDashboardOptions,
    private readonly csrf: CsrfTokens,
  ) {}

  /** The dashboard's URL path for this request. */
  base(req: DashboardRequest): string {
    return basePath(req, this.options.path);
  }

  of(req: DashboardRequest, res: DashboardResponse, q: QueryParams = {}): ViewContext {
    const base = this.base(req);
    let notice = NOTICES[one(q, 'notice') ?? ''];
    const n = one(q, 'n');
    if (notice && n && /^\d{1,6}$/.test(n)) notice += ` ${n} run(s) retried.`;
    return { base, csrf: this.csrf.issue(req, res, base), now: Date.now(), notice };
  }
}

import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import type { KeptParams } from '../views/pager.view.js';
import { RUN_STATES, type WorkflowState } from '../../database/entities/workflow.entity.js';
import { MAX_KEY_LENGTH, MAX_WORKFLOW_NAME_LENGTH } from '../../definitions/client-arguments.js';
import { unstorableText } from '../../util/serialization.util.js';
import { parseAttributeTerms, type SearchAttributes } from '../../definitions/search-attributes.js';
import { SearchAttributeError } from '../../errors/search-attribute.error.js';

/** Query parameters as Nest passes them. */
export type QueryParams = Record<string, string | string[] | undefined>;

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
  return textParam(value, name, MAX_WORKFLOW_NAME_LENGTH);
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
  if (s !== undefined && !RUN_STATES.includes(s as WorkflowState)) {
    throw new InvalidOptionsError(`Unknown state "${s}".`);
  }
  return s as WorkflowState | undefined;
}

/**
 * The `attr` filter terms (`key=text`, `key:=42`; repeat the parameter for more), as given, and the
 * filter they make (a refused term is a 400).
 */
export function attributesOf(q: QueryParams): { terms: string[]; attributes?: SearchAttributes } {
  const raw = q.attr;
  const given = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : [];
  const terms = given.filter((t) => t !== '').map((t) => textParam(t, 'attr'));
  try {
    return { terms, attributes: parseAttributeTerms(terms, '"attr"') };
  } catch (err) {
    if (err instanceof SearchAttributeError) throw new InvalidOptionsError(err.message);
    throw err;
  }
}

/** The `before` keyset cursor, validated. */
export function beforeOf(q: QueryParams): string | undefined {
  const b = one(q, 'before');
  if (b !== undefined && !/^\d{1,18}$/.test(b))
    throw new InvalidOptionsError('"before" must be a run id.');
  return b;
}

/** Rows per page of a run's steps, errors and branches unless `size` says otherwise. */
export const RUN_LIST_PAGE_SIZE = 100;
/** The `size` to keep in a list's links: only when the request chose one. */
export function keptSize(q: QueryParams): KeptParams {
  return { size: typeof q.size === 'string' && q.size !== '' ? q.size : undefined };
}

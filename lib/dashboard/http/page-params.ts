import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { MAX_PAGE_SIZE, type PageRequest } from '../data/keyset-page.js';
import type { KeptParams } from '../views/pager.view.js';
import type { QueryParams } from './dashboard-request.util.js';

/** Rows per page of a run's steps, errors and branches unless `size` says otherwise. */
export const RUN_LIST_PAGE_SIZE = 100;
const MAX_ID = 9223372036854775807n;

/** A single query value, or `InvalidOptionsError` when the parameter was repeated. */
function single(q: QueryParams, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new InvalidOptionsError(`"${name}" must be given once.`);
  return v === '' ? undefined : v;
}

/** A keyset cursor: a positive 64-bit row id. */
function cursor(q: QueryParams, name: 'after' | 'before'): string | undefined {
  const v = single(q, name);
  if (v !== undefined && (!/^\d{1,19}$/.test(v) || BigInt(v) > MAX_ID))
    throw new InvalidOptionsError(`"${name}" must be a row id (a positive 64-bit integer).`);
  return v;
}

/**
 * The page a list request asks for: `after` or `before` (a row id, not both) and `size`
 * (1..{@link MAX_PAGE_SIZE}, default `defaultSize`). Bad values throw `InvalidOptionsError` (400).
 */
export function pageOf(q: QueryParams, defaultSize: number): PageRequest {
  const after = cursor(q, 'after');
  const before = cursor(q, 'before');
  if (after !== undefined && before !== undefined)
    throw new InvalidOptionsError('Give "after" or "before", not both.');
  const raw = single(q, 'size');
  if (raw !== undefined && (!/^\d{1,3}$/.test(raw) || +raw < 1 || +raw > MAX_PAGE_SIZE))
    throw new InvalidOptionsError(`"size" must be an integer in 1..${MAX_PAGE_SIZE}.`);
  return { after, before, size: raw === undefined ? defaultSize : Number(raw) };
}

/** The `size` to keep in a list's links: only when the request chose one. */
export function keptSize(q: QueryParams): KeptParams {
  return { size: single(q, 'size') };
}

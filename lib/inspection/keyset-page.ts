import { InvalidOptionsError } from '../errors/invalid-options.error.js';

/** Largest page any list serves. */
export const MAX_PAGE_SIZE = 500;

/**
 * A page of a list ordered by a unique, ever-growing id: the rows with an id above `after` or
 * below `before` (at most one of them), or the list's start; at most `size` rows. New rows get
 * higher ids, so a page never shifts when rows are appended between page loads.
 */
export interface PageRequest {
  after?: string;
  before?: string;
  size: number;
}

/** Where a neighbouring page starts. */
export type Cursor = { after: string } | { before: string };

/** One page of rows in display order, with the cursors of the pages before and after it. */
export interface Page<R> {
  rows: R[];
  prev?: Cursor;
  next?: Cursor;
}

/** Display order of a list: oldest first (`asc`) or newest first (`desc`). */
export type ListOrder = 'asc' | 'desc';

/**
 * The keyset part of a statement on `column`: a condition (the cursor as parameter `$param`) and
 * the `ORDER BY … LIMIT` that fetches one row more than the page, to know whether more follow.
 */
export function keyset(
  column: string,
  order: ListOrder,
  req: PageRequest,
  param: number,
): { where: string; orderLimit: string; values: unknown[] } {
  const limit = `LIMIT ${req.size + 1}`;
  if (req.after !== undefined)
    return {
      where: `${column} > $${param}`,
      orderLimit: `ORDER BY ${column} ASC ${limit}`,
      values: [req.after],
    };
  if (req.before !== undefined)
    return {
      where: `${column} < $${param}`,
      orderLimit: `ORDER BY ${column} DESC ${limit}`,
      values: [req.before],
    };
  return {
    where: 'TRUE',
    orderLimit: `ORDER BY ${column} ${order.toUpperCase()} ${limit}`,
    values: [],
  };
}

/** The page of the rows a {@link keyset} statement fetched (in its scan order). */
export function toPage<R>(
  fetched: R[],
  order: ListOrder,
  req: PageRequest,
  idOf: (row: R) => string,
): Page<R> {
  const scanAsc = req.after !== undefined || (req.before === undefined && order === 'asc');
  const forward = scanAsc === (order === 'asc');
  const more = fetched.length > req.size;
  const rows = fetched.slice(0, req.size);
  if (!forward) rows.reverse();
  if (rows.length === 0) return { rows };
  const cursored = req.after !== undefined || req.before !== undefined;
  const [first, last] = [idOf(rows[0]), idOf(rows[rows.length - 1])];
  const hasPrev = forward ? cursored : more;
  const hasNext = forward ? more : cursored;
  return {
    rows,
    prev: hasPrev ? (order === 'asc' ? { before: first } : { after: first }) : undefined,
    next: hasNext ? (order === 'asc' ? { after: last } : { before: last }) : undefined,
  };
}

/** Query parameters of a paged list, as an HTTP framework passes them. */
export type PageQuery = Record<string, string | string[] | undefined>;

const MAX_ID = 9223372036854775807n;

/** A single query value, or `InvalidOptionsError` when the parameter was repeated. */
function single(q: PageQuery, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new InvalidOptionsError(`"${name}" must be given once.`);
  return v === '' ? undefined : v;
}

/** A keyset cursor: a positive 64-bit row id. */
function cursor(q: PageQuery, name: 'after' | 'before'): string | undefined {
  const v = single(q, name);
  if (v !== undefined && (!/^\d{1,19}$/.test(v) || BigInt(v) > MAX_ID))
    throw new InvalidOptionsError(`"${name}" must be a row id (a positive 64-bit integer).`);
  return v;
}

/**
 * The page a list request asks for: `after` or `before` (a row id, not both) and `size`
 * (1..{@link MAX_PAGE_SIZE}, default `defaultSize`). Bad values throw `InvalidOptionsError` (400).
 */
export function pageOf(q: PageQuery, defaultSize: number): PageRequest {
  const after = cursor(q, 'after');
  const before = cursor(q, 'before');
  if (after !== undefined && before !== undefined)
    throw new InvalidOptionsError('Give "after" or "before", not both.');
  const raw = single(q, 'size');
  if (raw !== undefined && (!/^\d{1,3}$/.test(raw) || +raw < 1 || +raw > MAX_PAGE_SIZE))
    throw new InvalidOptionsError(`"size" must be an integer in 1..${MAX_PAGE_SIZE}.`);
  return { after, before, size: raw === undefined ? defaultSize : Number(raw) };
}

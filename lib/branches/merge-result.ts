import { MergeResultTooLargeError } from '../errors/merge-result-too-large.error.js';
import { deserializeValue, type StoredValue } from '../util/serialization.util.js';

/** Most children a merge lists in `completed` / `failed`; larger merges are iterated. */
export const MERGE_INLINE_LIMIT = 100;

/** The error of a child that failed (its last error) or was cancelled (its reason). @publicApi */
export interface ChildError {
  errorClass: string | null;
  message: string | null;
}

/** One child of a merged branch, as `for await (const child of merged)` yields it. @publicApi */
export interface ChildOutcome<R = unknown> {
  key: string;
  id: string;
  /** `completed`, `failed`, `cancelled` or `compensated` (or, iterated early, a state it has not left yet). */
  state: string;
  /** The child's result (completed children). */
  result?: R;
  /** The child's error (failed and cancelled children). */
  error?: ChildError | null;
}

/**
 * What `ctx.merge()` returns: the outcomes of the merged branches' children. `completed` and
 * `failed` list them when there are at most {@link MERGE_INLINE_LIMIT} (recorded with the merge,
 * so replays return them without a query); otherwise reading them throws
 * `MergeResultTooLargeError` and `for await` walks every child in pages (constant memory).
 * @publicApi
 */
export interface MergeResult<R = unknown> extends AsyncIterable<ChildOutcome<R>> {
  /** Children by outcome when the merge completed. */
  readonly counts: { total: number; completed: number; failed: number };
  /** Whether `completed` and `failed` list every child. */
  readonly inline: boolean;
  readonly completed: Array<{ key: string; id: string; result: R }>;
  readonly failed: Array<{ key: string; id: string; state: string; error: ChildError | null }>;
}

/** A child's row as the outcome queries read it. */
export interface OutcomeRow {
  id: string;
  key: string;
  state: string;
  result: StoredValue | null;
  error_class: string | null;
  error_message: string | null;
}

/** What a merge records as its step's result. */
export interface RecordedMerge {
  counts: { total: number; completed: number; failed: number };
  rows: OutcomeRow[] | null;
}

/** The outcome of one child row. */
export function outcomeOf<R>(row: OutcomeRow): ChildOutcome<R> {
  const out: ChildOutcome<R> = { key: row.key, id: String(row.id), state: row.state };
  if (row.state === 'completed') out.result = deserializeValue<R>(row.result);
  else out.error = row.error_class || row.error_message ? errorOf(row) : null;
  return out;
}

function errorOf(row: OutcomeRow): ChildError {
  return { errorClass: row.error_class, message: row.error_message };
}

/** Builds the merge result over a recorded merge and a pager for large ones. */
export function mergeResult<R>(
  recorded: RecordedMerge,
  pages: () => AsyncGenerator<OutcomeRow[]>,
): MergeResult<R> {
  const rows = recorded.rows;
  const tooLarge = () =>
    new MergeResultTooLargeError(
      `The merge has ${recorded.counts.total} children (more than ${MERGE_INLINE_LIMIT} are not listed): iterate it with for await.`,
    );
  return {
    counts: recorded.counts,
    inline: rows !== null,
    get completed() {
      if (!rows) throw tooLarge();
      return rows
        .filter((r) => r.state === 'completed')
        .map((r) => ({ key: r.key, id: String(r.id), result: deserializeValue<R>(r.result) }));
    },
    get failed() {
      if (!rows) throw tooLarge();
      return rows
        .filter((r) => r.state !== 'completed')
        .map((r) => ({ key: r.key, id: String(r.id), state: r.state, error: errorOf(r) }));
    },
    async *[Symbol.asyncIterator]() {
      if (rows) {
        for (const r of rows) yield outcomeOf<R>(r);
        return;
      }
      for await (const page of pages()) for (const r of page) yield outcomeOf<R>(r);
    },
  };
}

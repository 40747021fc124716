import type { LogRow } from './rows.js';

/** How these reads run a statement (the store's `query`; rows typed `object`, see `StoreQuery`). */
type Query = <R extends object>(text: string, values: unknown[]) => Promise<R[]>;

/** The statements they use (`WorkflowStatements`). */
interface TakeoverStatements {
  readonly relog: string;
  readonly letGo: string;
}

/**
 * Runs' step logs, read again after acquires took their locks over from other passes (see
 * `acquired`): a plain read, tried three times. @internal
 */
export async function relog(
  query: Query,
  statements: TakeoverStatements,
  ids: string[],
): Promise<Map<string, LogRow[]>> {
  for (let tries = 1; ; tries++) {
    try {
      const rows = await query<{ id: string; logs: LogRow[] }>(statements.relog, [ids]);
      return new Map(rows.map((r) => [r.id, r.logs]));
    } catch (err) {
      if (tries >= 3) throw err;
    }
  }
}

/**
 * {@link relog} of run `id`, whose lock `owner` took over; when the read keeps failing, the lock is
 * let go (best effort: the next try, or the recovery sweep, takes the run) and the error thrown,
 * rather than the lock held by a pass that never runs until it goes stale. @internal
 */
export async function relogOrLetGo(
  query: Query,
  statements: TakeoverStatements,
  id: string,
  owner: string,
): Promise<LogRow[]> {
  try {
    return (await relog(query, statements, [id])).get(id) ?? [];
  } catch (err) {
    await query(statements.letGo, [id, owner]).catch(() => undefined);
    throw err;
  }
}

import type { Pool } from 'pg';
import { sql } from './env.js';

/**
 * The backend pids of `pool`'s connections that sit idle inside a transaction (none once the engine
 * returned them: a connection back in the pool must have ended its transaction).
 */
export async function idleInTransaction(pool: Pool): Promise<number[]> {
  const pids = (pool as unknown as { _clients: Array<{ processID: number }> })._clients.map(
    (c) => c.processID,
  );
  const rows = await sql<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND state LIKE 'idle in transaction%'`,
    [pids],
  );
  return rows.map((r) => r.pid);
}

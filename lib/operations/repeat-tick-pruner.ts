import type { Pool } from 'pg';

/** A coordination log (`durably_repeat$<name>`) and the newest scheduled time it processed. */
interface CoordinationRow {
  id: string;
  workflow_id: string;
  step_name: string;
  frontier: string | null;
}

/**
 * Deletes terminal tick rows `durably_repeat$<name>$<ms>` whose scheduled `<ms>` is below both
 * `cutoff` and their coordination log's `last_execution_at`. Coordination logs are read a page at
 * a time; each page's ticks are deleted `batchSize` rows per statement. Returns the rows deleted.
 */
export async function pruneRepeatTicks(
  pool: Pool,
  logs: string,
  cutoff: Date,
  batchSize: number,
): Promise<number> {
  let deleted = 0;
  let after = '0';
  for (;;) {
    // Exactly one `$`: the coordination log, not a tick (which adds `$<ms>`).
    const { rows } = await pool.query<CoordinationRow>(
      `SELECT id, workflow_id, step_name, metadata->>'last_execution_at' AS frontier FROM ${logs}
       WHERE step_name LIKE 'durably\\_repeat$%' AND step_name NOT LIKE 'durably\\_repeat$%$%' AND id > $1
       ORDER BY id LIMIT $2`,
      [after, batchSize],
    );
    if (rows.length === 0) return deleted;
    after = rows[rows.length - 1].id;
    const targets = rows.flatMap((row) => {
      const frontier = row.frontier === null ? NaN : Date.parse(row.frontier);
      if (!Number.isFinite(frontier)) return []; // no tick processed yet: nothing is safe to prune
      return [
        {
          workflowId: row.workflow_id,
          prefix: `${row.step_name}$`,
          limit: Math.min(frontier, cutoff.getTime()),
        },
      ];
    });
    if (targets.length > 0) deleted += await deleteTicks(pool, logs, targets, batchSize);
    if (rows.length < batchSize) return deleted;
  }
}

async function deleteTicks(
  pool: Pool,
  logs: string,
  targets: { workflowId: string; prefix: string; limit: number }[],
  batchSize: number,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    // The prefix is compared with left() rather than LIKE: step names contain `_`, a LIKE wildcard.
    // CASE keeps the cast from seeing a suffix that is not a number.
    const result = await pool.query(
      `DELETE FROM ${logs} WHERE id IN (
         SELECT t.id FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS c(workflow_id, prefix, lim)
         JOIN ${logs} t ON t.workflow_id = c.workflow_id AND left(t.step_name, length(c.prefix)) = c.prefix
         WHERE t.state IN ('completed', 'failed')
           AND CASE WHEN substr(t.step_name, length(c.prefix) + 1) ~ '^-?[0-9]{1,15}$'
                    THEN substr(t.step_name, length(c.prefix) + 1)::bigint END < c.lim
         LIMIT $4)`,
      [
        targets.map((t) => t.workflowId),
        targets.map((t) => t.prefix),
        targets.map((t) => t.limit),
        batchSize,
      ],
    );
    const n = result.rowCount ?? 0;
    deleted += n;
    if (n < batchSize) return deleted;
  }
}

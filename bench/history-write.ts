import pg from 'pg';
import { historyWrite } from '../lib/persistence/workflow.sql.js';
import { DATABASE_URL, median, now } from './support.js';

/** The statement cost of one history write, by way of writing it (ms). */
export interface HistoryWriteCost {
  entries: number;
  rewriteMs: number;
  appendMs: number;
  rewriteMinMs: number;
  appendMinMs: number;
}

/**
 * The history part of a pass-ending statement, alone: a pass that adds one call to a run whose
 * history has `entries`, written as the whole array (`COALESCE($2::jsonb, history)`, what every
 * such pass sent before appends) or as the engine's append (`historyWrite`); `reps` alternating
 * pairs on one connection, client-side JSON encoding included, the row reset before each.
 */
export async function historyWriteCost(
  schema: string,
  entries: number,
  reps = 150,
): Promise<HistoryWriteCost> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const table = `"${schema}".history_probe`;
  try {
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, history jsonb)`);
    const stored = Array.from({ length: entries }, (_, i) => (i ? `step$s#${i + 1}` : 'step$s'));
    const reset = () =>
      client.query(
        `INSERT INTO ${table} VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET history = $1`,
        [JSON.stringify(stored)],
      );
    const rewrite = `UPDATE ${table} SET history = COALESCE($2::jsonb, history) WHERE id = $1`;
    const append = `UPDATE ${table} SET history = ${historyWrite('$2')} WHERE id = $1`;
    const timed = async (text: string, value: () => unknown) => {
      await reset();
      const t0 = now();
      await client.query(text, [1, JSON.stringify(value())]);
      return now() - t0;
    };
    const r: number[] = [];
    const a: number[] = [];
    for (let i = 0; i < reps; i++) {
      r.push(await timed(rewrite, () => [...stored, 'step$tail']));
      a.push(await timed(append, () => ({ at: entries, append: ['step$tail'] })));
    }
    const [check] = (await client.query(`SELECT jsonb_array_length(history) AS n FROM ${table}`))
      .rows;
    if (Number(check.n) !== entries + 1) throw new Error(`append wrote ${check.n} entries`);
    return {
      entries,
      rewriteMs: median(r),
      appendMs: median(a),
      rewriteMinMs: Math.min(...r),
      appendMinMs: Math.min(...a),
    };
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  }
}

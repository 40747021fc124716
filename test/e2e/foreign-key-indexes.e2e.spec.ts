import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, sql, uniqueName } from '../support/env.js';

/** A column a delete looks rows up by: a foreign key, or the step-log cascade trigger's key. */
interface ReferencingColumn {
  table: string;
  column: string;
}

/**
 * Deleting a run, a step log or a repeat tick makes PostgreSQL look up the referencing rows of every
 * foreign key (and the step-log cascade trigger its logs). Each lookup must use an index, or cleanup
 * time grows with the size of unrelated tables (a sequential scan per deleted row).
 */
describe('foreign keys a delete walks are indexed (e2e)', () => {
  const schema = uniqueName('cf_fkidx');
  const queueName = uniqueName('q_fkidx');
  let app: INestApplicationContext;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, options: { worker: false } });
  });
  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  /** Every single-column foreign key in the schema, plus the trigger-maintained step-log key. */
  const referencingColumns = async (): Promise<ReferencingColumn[]> => {
    const fks = await sql<ReferencingColumn & { keys: number }>(
      `SELECT c.conrelid::regclass::text AS "table", a.attname AS "column",
              cardinality(c.conkey) AS keys
         FROM pg_constraint c
         JOIN pg_namespace n ON n.oid = c.connamespace
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND n.nspname = $1`,
      [schema],
    );
    expect(fks.every((fk) => fk.keys === 1)).toBe(true);
    return [
      ...fks.map(({ table, column }) => ({ table: table.replace(/^.*\./, ''), column })),
      { table: 'chrono_forge_execution_logs', column: 'workflow_id' },
    ].sort((a, b) => `${a.table}.${a.column}`.localeCompare(`${b.table}.${b.column}`));
  };

  /** The plan PostgreSQL picks for the lookup a delete makes, with sequential scans discouraged. */
  const lookupPlan = async ({ table, column }: ReferencingColumn): Promise<string> => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT 1 FROM ONLY "${schema}"."${table}" WHERE "${column}" = 1`,
      );
      await client.query('ROLLBACK');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await client.end();
    }
  };

  it('should look up every referencing column by an index', async () => {
    const columns = await referencingColumns();
    expect(columns).toEqual([
      { table: 'chrono_forge_error_logs', column: 'execution_log_id' },
      { table: 'chrono_forge_error_logs', column: 'workflow_id' },
      { table: 'chrono_forge_execution_logs', column: 'workflow_id' },
      { table: 'chrono_forge_signals', column: 'workflow_id' },
      { table: 'chrono_forge_workflows', column: 'parent_execution_log_id' },
    ]);
    const plans = await Promise.all(
      columns.map(async (c) => ({ ...c, plan: await lookupPlan(c) })),
    );
    const scanned = plans.filter((p) => /Seq Scan/.test(p.plan));
    expect(scanned.map((p) => `${p.table}.${p.column}:\n${p.plan}`)).toEqual([]);
    for (const p of plans) expect(p.plan).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
  });
});

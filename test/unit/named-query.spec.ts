import pg from 'pg';
import type { PoolClient } from 'pg';
import { describe, expect, it } from 'vitest';
import { namedCount, namedQuery } from '../../lib/database/named-query.js';
import { unreadLogId } from '../../lib/persistence/rows.js';
import { DATABASE_URL } from '../support/env.js';

describe('namedQuery', () => {
  it('should run a prepared statement on a client of this pg, again by name, and reject its error', async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const text = 'SELECT $1::int * 2 AS n, $2::timestamptz AS at';
      const at = new Date('2026-01-02T03:04:05.678Z');
      for (const i of [1, 2]) {
        const rows = await namedQuery<{ n: number; at: Date }>(
          client as unknown as PoolClient,
          'cf_unit_named',
          text,
          [i, at.toISOString()],
        );
        expect(rows).toEqual([{ n: 2 * i, at }]);
      }
      await expect(
        namedQuery(client as unknown as PoolClient, 'cf_unit_div', 'SELECT 1 / $1::int', [0]),
      ).rejects.toMatchObject({ code: '22012' });
      // The connection is still usable after the failed statement.
      await expect(
        namedQuery(client as unknown as PoolClient, 'cf_unit_named', text, [5, at.toISOString()]),
      ).resolves.toEqual([{ n: 10, at }]);
    } finally {
      await client.end();
    }
  });

  it('should send a config object, not a Query of this pg, to a client of another driver (pg-native, another pg copy)', async () => {
    const sent: unknown[] = [];
    const foreign = {
      query: (config: unknown) => {
        sent.push(config);
        return Promise.resolve({ rows: [{ ok: true }] });
      },
    };
    const rows = await namedQuery(foreign as unknown as PoolClient, 'cf_x', 'SELECT $1', [1]);
    expect(rows).toEqual([{ ok: true }]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).not.toBeInstanceOf(pg.Query);
    expect(sent[0]).toEqual({ name: 'cf_x', text: 'SELECT $1', values: [1] });
  });

  it('should resolve a statement without rows with the count of rows it wrote, on this pg and another driver', async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    const as = client as unknown as PoolClient;
    try {
      await client.query('CREATE TEMP TABLE cf_unit_counted (n int PRIMARY KEY)');
      const text = 'INSERT INTO cf_unit_counted (n) SELECT $1::int WHERE $2::boolean';
      expect(await namedCount(as, 'cf_unit_count', text, [1, true])).toBe(1);
      expect(await namedCount(as, 'cf_unit_count', text, [2, false])).toBe(0);
      await expect(namedCount(as, 'cf_unit_count', text, [1, true])).rejects.toMatchObject({
        code: '23505',
      });
      expect(await namedCount(as, 'cf_unit_count', text, [3, true])).toBe(1);
    } finally {
      await client.end();
    }
    const foreign = { query: () => Promise.resolve({ rows: [], rowCount: 1 }) };
    expect(await namedCount(foreign as unknown as PoolClient, 'cf_y', 'SELECT 1', [])).toBe(1);
  });
});

describe('unreadLogId', () => {
  it('should give ids after any stored log id, increasing in the order of the writes', () => {
    const [a, b] = [BigInt(unreadLogId()), BigInt(unreadLogId())];
    expect(a).toBeGreaterThanOrEqual(2n ** 62n);
    expect(b).toBeGreaterThan(a);
    expect(b).toBeLessThan(2n ** 63n);
  });
});

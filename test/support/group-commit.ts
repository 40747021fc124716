import pg from 'pg';
import { expect } from 'vitest';
import type { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { DATABASE_URL } from './env.js';

/**
 * Scaffolds of the group-commit specs (checkpoint-batch, group-commit-review): runs locked as
 * passes hold them, clients of their own, and the store's statements watched while a test runs.
 */

/** A PostgreSQL client of its own: a transaction apart from the store's pool. */
export async function pgClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  return client;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `n` runs of `persist.fromStep`, each locked by its own owner, as passes hold them (ids ascending). */
export async function lockRuns(store: WorkflowStore, prefix: string, n: number) {
  const runs: { id: string; owner: string }[] = [];
  for (let i = 0; i < n; i++) {
    const { id } = await store.insertRun('persist.fromStep', `${prefix}-${i}`, null, 60_000);
    const owner = `test-worker/${prefix}-${i}`;
    const got = await store.acquire(id, owner, Date.now());
    expect(got.kind).toBe('acquired');
    runs.push({ id, owner });
  }
  return runs;
}

type StoreQuery = WorkflowStore['query'];

/** Runs `fn` with the store's `query` replaced by `wrap(query)` (the real one), then puts it back. */
export async function tappingQuery<T>(
  store: WorkflowStore,
  wrap: (query: StoreQuery) => StoreQuery,
  fn: () => Promise<T>,
): Promise<T> {
  const query = store.query.bind(store);
  store.query = wrap(query);
  try {
    return await fn();
  } finally {
    store.query = query;
  }
}

/** Texts that tell one kind's multi-row statement and its single-row one apart. */
export interface StatementMarkers {
  multi: string;
  single: string;
}

/** First-attempt checkpoints. */
export const CHECKPOINTS: StatementMarkers = {
  multi: "'completed', v.attempts",
  single: "'completed', $4, $7",
};
/** Starts (inserts of runs). */
export const STARTS: StatementMarkers = {
  multi: 'AS v(key, job_name, input',
  single: 'ON CONFLICT (job_name, key) DO NOTHING',
};
/** Acquires. */
export const ACQUIRES: StatementMarkers = {
  multi: 'AS u(rid, rowner, rnow',
  single: "ELSE 'running' END",
};
/** Completions. */
export const COMPLETIONS: StatementMarkers = {
  multi: 'AS v(rid, rowner, rresult',
  single: '$workflow_completion$',
};

/** Counts the store's statements of one kind (`markers`), multi-row and single, while `fn` runs. */
export async function counting<T>(
  store: WorkflowStore,
  markers: StatementMarkers,
  fn: () => Promise<T>,
) {
  const seen = { single: 0, multi: 0 };
  const wrap = (query: StoreQuery) =>
    ((text: string, values?: unknown[], ...rest: never[]) => {
      if (text.includes(markers.multi)) seen.multi++;
      else if (text.includes(markers.single)) seen.single++;
      return query(text, values, ...rest);
    }) as StoreQuery;
  return { result: await tappingQuery(store, wrap, fn), seen };
}

/**
 * Watches the store's statements while `fn` runs: `multi` resolves when the first statement whose
 * text contains `marker` starts; `failures` lists the SQLSTATE of every statement that failed.
 * With `lose`, that multi-row statement commits but its caller sees a lost connection.
 */
export async function watching<T>(
  store: WorkflowStore,
  marker: string,
  fn: (multi: Promise<void>) => Promise<T>,
  lose = false,
) {
  const failures: string[] = [];
  let seen!: () => void;
  const multi = new Promise<void>((r) => (seen = r));
  let multis = 0;
  const wrap = (query: StoreQuery) =>
    (async (text: string, values?: unknown[], ...rest: never[]) => {
      const isMulti = text.includes(marker);
      if (isMulti) {
        multis++;
        seen();
      }
      try {
        const rows = await query(text, values, ...rest);
        if (isMulti && lose) throw new Error('Connection terminated unexpectedly');
        return rows;
      } catch (err) {
        failures.push((err as { code?: string }).code ?? 'lost');
        throw err;
      }
    }) as StoreQuery;
  const result = await tappingQuery(store, wrap, () => fn(multi));
  return { result, failures, multis };
}

/**
 * A transaction holding the rows of `ids` in `table` (FOR UPDATE): statements on them wait until
 * `release` commits it.
 */
export async function blocker(table: string, ids: string[]) {
  const holder = await pgClient();
  await holder.query('BEGIN');
  await holder.query(`SELECT 1 FROM ${table} WHERE id = ANY($1::bigint[]) FOR UPDATE`, [ids]);
  let open = true;
  return {
    release: async () => {
      if (!open) return;
      open = false;
      await holder.query('COMMIT');
      await holder.end();
    },
  };
}

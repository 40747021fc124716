import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { type RunScope, runStorage } from '../../lib/run/run-scope.js';
import { stepStorage } from '../../lib/run/call-storage.js';
import { DATABASE_URL } from '../support/env.js';

/** Schema of the fuzz suite (worker processes get it through the environment). */
export const fuzzSchema = (): string => process.env.CF_TEST_SCHEMA ?? 'public';

/**
 * The ledger and the test's control tables, written through a pool of its own (autocommit), so a
 * row survives whatever happens to the pass: `fuzz_ledger` (one row per step body execution, written
 * when the body starts), `fuzz_attempts` (attempt counters of flaky and broken bodies) and
 * `fuzz_fixed` (runs whose broken steps the driver fixed).
 */
@Injectable()
export class FuzzLedger implements OnModuleDestroy {
  private readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: 6 });
  private readonly passes = new WeakMap<RunScope, string>();
  private passCounter = 0;

  constructor() {
    this.pool.on('error', () => undefined);
  }

  static ddl(schema: string): string[] {
    const s = `"${schema}"`;
    return [
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_ledger (id bigserial PRIMARY KEY, root text NOT NULL,
         key text NOT NULL, node text NOT NULL, step text NOT NULL, pid int NOT NULL, pass text NOT NULL,
         owner text NOT NULL, holder text, run_state text, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      `CREATE INDEX IF NOT EXISTS fuzz_ledger_root ON ${s}.fuzz_ledger (root)`,
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_attempts (root text, node text, n int NOT NULL,
         at2 timestamptz, pid2 int, PRIMARY KEY (root, node))`,
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_fixed (root text PRIMARY KEY)`,
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_starts (root text, node text, ms bigint NOT NULL,
         PRIMARY KEY (root, node))`,
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_limit_bodies (id bigserial PRIMARY KEY, root text NOT NULL,
         node text NOT NULL, lim text NOT NULL, lkey text NOT NULL, ms int NOT NULL, pid int NOT NULL,
         started_ms bigint NOT NULL, ended_ms bigint)`,
    ];
  }

  private scope(): { scope: RunScope; step: string } {
    const scope = runStorage.getStore();
    const step = stepStorage.getStore();
    if (!scope || !step) throw new Error('FuzzLedger must be called inside a step body');
    return { scope, step };
  }

  private passOf(scope: RunScope): string {
    let pass = this.passes.get(scope);
    if (!pass) {
      pass = `${process.pid}:${++this.passCounter}`;
      this.passes.set(scope, pass);
    }
    return pass;
  }

  /** Appends the ledger row of the body of `node` (through `manager` when it is transactional). */
  async record(
    root: string,
    node: string,
    via?: { query(q: string, v: unknown[]): Promise<unknown> },
  ) {
    const { scope, step } = this.scope();
    const s = `"${fuzzSchema()}"`;
    const wf = `${s}.chrono_forge_workflows`;
    const q = `INSERT INTO ${s}.fuzz_ledger (root, key, node, step, pid, pass, owner, holder, run_state)
       SELECT $1, $2, $3, $4, $5, $6, $7, w.locked_by, w.state FROM ${wf} w WHERE w.id = $8`;
    const values = [
      root,
      scope.run.key,
      node,
      step,
      process.pid,
      this.passOf(scope),
      scope.owner,
      scope.run.id,
    ];
    await (via ?? this.pool).query(q, values);
  }

  /**
   * The start of a limited body under limit `lim`, key `lkey` (the process's clock, which every
   * process of the machine shares; a killed body has no end): limit-invariants.ts measures the
   * limits from these rows, not from the engine's counters.
   */
  async limitStart(root: string, node: string, lim: string, lkey: string, ms: number) {
    const startedMs = Date.now();
    const rows = await this.pool.query<{ id: string }>(
      `INSERT INTO "${fuzzSchema()}".fuzz_limit_bodies (root, node, lim, lkey, ms, pid, started_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [root, node, lim, lkey, ms, process.pid, startedMs],
    );
    return rows.rows[0].id;
  }

  /** The end of the limited body `id` (before its step returns, so before its slot is freed). */
  async limitEnd(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE "${fuzzSchema()}".fuzz_limit_bodies SET ended_ms = $2 WHERE id = $1`,
      [id, Date.now()],
    );
  }

  /** When the first body of `node` started (`Date.now()` of that body; now for the first). */
  async firstStart(root: string, node: string): Promise<number> {
    const rows = await this.pool.query<{ ms: string }>(
      `INSERT INTO "${fuzzSchema()}".fuzz_starts AS f (root, node, ms) VALUES ($1, $2, $3)
       ON CONFLICT (root, node) DO UPDATE SET ms = f.ms RETURNING ms`,
      [root, node, Date.now()],
    );
    return Number(rows.rows[0].ms);
  }

  /**
   * When a second pass started the body of `node` (`Date.now()` ms), waiting for one until `ms`
   * after the first start; `null` when none did by then.
   */
  async secondStart(root: string, node: string, ms: number): Promise<number | null> {
    for (;;) {
      const rows = await this.pool.query<{ first: string; second: string | null }>(
        `SELECT (array_agg(extract(epoch FROM at) * 1000 ORDER BY id))[1]::float8 AS first,
           (array_agg(extract(epoch FROM at) * 1000 ORDER BY id))[2]::float8 AS second
         FROM "${fuzzSchema()}".fuzz_ledger WHERE root = $1 AND node = $2`,
        [root, node],
      );
      const { first, second } = rows.rows[0];
      if (second !== null) return Number(second);
      if (Date.now() >= Number(first) + ms) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Increments and returns the attempt counter of `node` (`at2`, `pid2`: when it went to 2, in which process). */
  async attempt(root: string, node: string): Promise<number> {
    const rows = await this.pool.query<{ n: number }>(
      `INSERT INTO "${fuzzSchema()}".fuzz_attempts AS a (root, node, n) VALUES ($1, $2, 1)
       ON CONFLICT (root, node) DO UPDATE SET n = a.n + 1,
         at2 = CASE WHEN a.n = 1 THEN clock_timestamp() ELSE a.at2 END,
         pid2 = CASE WHEN a.n = 1 THEN $3 ELSE a.pid2 END RETURNING n`,
      [root, node, process.pid],
    );
    return rows.rows[0].n;
  }

  async isFixed(root: string): Promise<boolean> {
    const rows = await this.pool.query(
      `SELECT 1 FROM "${fuzzSchema()}".fuzz_fixed WHERE root = $1`,
      [root],
    );
    return rows.rowCount! > 0;
  }

  /** Completed ticks of the repeat whose `till` is running (its coordination log's ticks). */
  async completedTicks(): Promise<number> {
    const scope = runStorage.getStore()!;
    const coord = stepStorage.getStore()!.replace(/\$till$/, '');
    const rows = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${fuzzSchema()}".chrono_forge_execution_logs
       WHERE workflow_id = $1 AND state = 'completed' AND starts_with(step_name, $2)`,
      [scope.run.id, `${coord}$`],
    );
    return rows.rows[0].n;
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}

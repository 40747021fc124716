import { Injectable } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  DurableStep,
  RetryPolicy,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { DATABASE_URL, sql } from '../support/env.js';
import { idleInTransaction } from '../support/pool-transactions.js';
import { bootApp } from '../support/app.js';
import { suiteApp } from '../support/suite.js';

/**
 * Transactional steps back to back (lib/database/tx-connection.ts) under the shapes a review found
 * defects in: a query a body leaves in flight, a savepoint a body leaves open, a COMMIT that
 * outlives the driver's query_timeout; and under a pool of 1, a failing START, a shutdown.
 */

/** What the step bodies saw. */
@Injectable()
class ReviewProbe {
  table = '';
  readonly xids = new Map<string, string[]>();
  stray: { ok: boolean; xid?: string; err?: string } | undefined;
}

@Injectable()
class ReviewSteps {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly probe: ReviewProbe,
  ) {}

  private async write(i: number): Promise<void> {
    const m = this.ctx.manager;
    const [{ xid }] = (await m.query(
      `INSERT INTO ${this.probe.table} (key, i) VALUES ($1, $2) RETURNING txid_current()::text AS xid`,
      [this.ctx.key, i],
    )) as Array<{ xid: string }>;
    const list = this.probe.xids.get(this.ctx.key) ?? [];
    list[i] = xid;
    this.probe.xids.set(this.ctx.key, list);
  }

  @DurableStep({ transactional: true })
  async rc(i: number): Promise<number> {
    await this.write(i);
    return i;
  }

  /**
   * Writes its row, and leaves a write in flight (fire-and-forget after a short query): a misuse;
   * the write must fail loudly, never run in the next step's transaction or be rolled back unseen.
   */
  @DurableStep({ transactional: true })
  async leaky(i: number): Promise<number> {
    await this.write(i);
    const m = this.ctx.manager;
    const key = this.ctx.key;
    void m
      .query('SELECT pg_sleep(0.05)')
      .then(
        () =>
          m.query(
            `INSERT INTO ${this.probe.table} (key, i) VALUES ($1, $2) RETURNING txid_current()::text AS xid`,
            [key, 100 + i],
          ) as Promise<Array<{ xid: string }>>,
      )
      .then(
        (rows) => (this.probe.stray = { ok: true, xid: rows[0].xid }),
        (err: unknown) => (this.probe.stray = { ok: false, err: String(err) }),
      );
    return i;
  }

  /** Leaves a savepoint open (a nested startTransaction it never ends). */
  @DurableStep({
    transactional: true,
    retry: new RetryPolicy({ maxAttempts: 2, base: '10ms', jitter: false }),
  })
  async openSavepoint(i: number): Promise<number> {
    await this.ctx.manager.queryRunner!.startTransaction();
    await this.write(i);
    return i;
  }

  /** Writes into a table whose deferred trigger sleeps at COMMIT. */
  @DurableStep({ transactional: true })
  async slowCommit(i: number): Promise<number> {
    await this.ctx.manager.query(`INSERT INTO ${this.probe.table}_slow (key) VALUES ($1)`, [
      this.ctx.key,
    ]);
    return i;
  }
}

@Injectable()
class ReviewWorkflows {
  constructor(private readonly steps: ReviewSteps) {}

  @Workflow('txReview.leak')
  async leak(input: { last: boolean }): Promise<number> {
    await this.steps.rc(0);
    await this.steps.rc(1);
    await this.steps.leaky(2);
    if (!input.last) await this.steps.rc(3);
    return 1;
  }

  @Workflow('txReview.savepoint')
  async savepoint(): Promise<number> {
    await this.steps.rc(0);
    await this.steps.rc(1);
    await this.steps.openSavepoint(2);
    return 1;
  }

  @Workflow('txReview.slow')
  async slow(): Promise<number> {
    await this.steps.rc(0);
    await this.steps.rc(1);
    await this.steps.slowCommit(2);
    return 1;
  }
}

describe('transactional steps back to back, misused and faulted (e2e)', () => {
  const suite = suiteApp('txreview', [ReviewProbe, ReviewSteps, ReviewWorkflows], {
    options: { worker: { concurrency: 2 } },
  });
  let probe: ReviewProbe;
  let restore: (() => void) | undefined;

  beforeAll(async () => {
    probe = suite.app.get(ReviewProbe);
    probe.table = `"${suite.schema}".review_rows`;
    await sql(`CREATE TABLE ${probe.table} (key text NOT NULL, i int NOT NULL)`);
    await sql(`CREATE TABLE ${probe.table}_slow (key text NOT NULL)`);
    await sql(`CREATE FUNCTION "${suite.schema}".slow_commit() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE NOTICE 'deferred check'; PERFORM pg_sleep(1.5); RETURN NULL; END $$`);
    await sql(`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON ${probe.table}_slow
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${suite.schema}".slow_commit()`);
  });
  afterEach(() => restore?.());

  const rowsOf = async (key: string) =>
    (await sql<{ i: number }>(`SELECT i FROM ${probe.table} WHERE key = $1 ORDER BY i`, [key])).map(
      (r) => r.i,
    );

  it('fails a write a step body left in flight, never runs it in the next step transaction', async () => {
    probe.stray = undefined;
    const h = await suite.client.start('txReview.leak', {
      key: 'leak-next',
      input: { last: false },
    });
    expect(await h.result({ timeout: '20s' })).toBe(1);
    await expect.poll(() => probe.stray, { timeout: 2_000 }).toBeDefined();
    // Sent after its step's COMMIT (which began the next step's transaction): it fails as on a
    // released runner, instead of running in step 3's transaction.
    expect(probe.stray).toMatchObject({ ok: false });
    expect(probe.stray!.err).toMatch(/released/);
    expect(await rowsOf('leak-next')).toEqual([0, 1, 2, 3]);
  });

  it('fails a write a step body left in flight when no step takes the connection', async () => {
    probe.stray = undefined;
    const h = await suite.client.start('txReview.leak', {
      key: 'leak-last',
      input: { last: true },
    });
    expect(await h.result({ timeout: '20s' })).toBe(1);
    await expect.poll(() => probe.stray, { timeout: 2_000 }).toBeDefined();
    await delay(300);
    // Never an INSERT that resolved and was then rolled back with the unused transaction.
    expect(probe.stray).toMatchObject({ ok: false });
    expect(await rowsOf('leak-last')).toEqual([0, 1, 2]);
  });

  it('fails a step whose body leaves a savepoint open, leaving no connection in a transaction', async () => {
    const h = await suite.client.start('txReview.savepoint', { key: 'savepoint' });
    const result = await h.result({ timeout: '20s' }).then(
      () => 'completed',
      (e: unknown) => String(e),
    );
    // Committing would have released the savepoint only and returned the connection inside the
    // transaction: the step fails instead (TransactionAbortedError), its writes rolled back.
    expect(result).toMatch(/not as the engine began it/);
    expect(await rowsOf('savepoint')).toEqual([0, 1]);
    const { pool } = suite.app.get(ChronoForgeDatabase);
    await expect.poll(() => idleInTransaction(pool), { timeout: 2_000 }).toEqual([]);
  });

  it('a COMMIT that outlives query_timeout leaves no pooled connection inside a transaction', async () => {
    const { pool } = suite.app.get(ChronoForgeDatabase);
    // As a DataSource given with `extra: { query_timeout: 1000 }` would.
    type Timed = { connectionParameters: { query_timeout: number | false } };
    const opts = pool.options as unknown as { query_timeout?: number };
    const clients = () => (pool as unknown as { _clients: Timed[] })._clients;
    opts.query_timeout = 1000;
    for (const c of clients()) c.connectionParameters.query_timeout = 1000;
    restore = () => {
      delete opts.query_timeout;
      for (const c of clients()) c.connectionParameters.query_timeout = false;
    };
    const h = await suite.client.start('txReview.slow', { key: 'slow' });
    // The COMMIT outlives the driver's timeout (the step's outcome is unknown to the pass, which
    // ends); what is checked is the pool, not the run.
    await h.result({ timeout: '30s' }).catch(() => undefined);
    // The engine's pool: none of its connections stays inside a transaction.
    await delay(2_500);
    const stuck = await idleInTransaction(pool);
    // What the engine's pool writes on such a connection is never committed.
    const marks: number[] = [];
    for (let n = 0; n < 10; n++) {
      await pool.query(`INSERT INTO ${probe.table} (key, i) VALUES ('pooled', ${n})`);
      marks.push(n);
    }
    const visible = await rowsOf('pooled');
    expect(stuck).toEqual([]);
    expect(visible).toEqual(marks);
  });
});

@Injectable()
class ChainBodies {
  table = '';
  readonly runs = new Map<string, number>();
}

@Injectable()
class ChainSteps2 {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly bodies: ChainBodies,
  ) {}

  @DurableStep({ transactional: true })
  async rc(i: number): Promise<number> {
    const tag = `${this.ctx.key}/${i}`;
    this.bodies.runs.set(tag, (this.bodies.runs.get(tag) ?? 0) + 1);
    await this.ctx.manager.query(`INSERT INTO ${this.bodies.table} (key, i) VALUES ($1, $2)`, [
      this.ctx.key,
      i,
    ]);
    return i;
  }

  @DurableStep({ transactional: true, isolation: 'SERIALIZABLE' })
  async ser(i: number): Promise<number> {
    return this.rc(i);
  }

  @DurableStep()
  plain(i: number): number {
    return i;
  }
}

@Injectable()
class ChainWorkflows2 {
  constructor(private readonly steps: ChainSteps2) {}

  @Workflow('txReview2.mix')
  async mix(input: { n: number }): Promise<number> {
    let i = 0;
    for (let r = 0; r < input.n; r++) {
      await this.steps.rc(i++);
      await this.steps.rc(i++);
      await Promise.all([this.steps.rc(i++), this.steps.rc(i++), this.steps.plain(i++)]);
      await this.steps.ser(i++);
      await this.steps.rc(i++);
    }
    return i;
  }
}

describe('transactional steps back to back: a pool of 1, concurrency 3, START faults (e2e)', () => {
  const suite = suiteApp('txreview2', [], {
    boot: (schema, queueName) =>
      bootApp({
        schema,
        queueName,
        providers: [ChainBodies, ChainSteps2, ChainWorkflows2],
        options: {
          worker: { concurrency: 3 },
          database: { url: DATABASE_URL, schema, poolSize: 1 },
        },
      }),
  });
  let bodies: ChainBodies;
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  beforeAll(async () => {
    bodies = suite.app.get(ChainBodies);
    bodies.table = `"${suite.schema}".rows2`;
    await sql(`CREATE TABLE ${bodies.table} (key text NOT NULL, i int NOT NULL)`);
  });

  const check = async (keys: string[], n: number) => {
    for (const key of keys) {
      const rows = (
        await sql<{ i: number }>(`SELECT i FROM ${bodies.table} WHERE key = $1 ORDER BY i`, [key])
      ).map((r) => r.i);
      const expected = Array.from({ length: 7 * n }, (_, i) => i).filter((i) => i % 7 !== 4);
      expect(rows, key).toEqual(expected);
      for (const i of expected) expect(bodies.runs.get(`${key}/${i}`), `${key}/${i}`).toBe(1);
    }
  };

  it('runs concurrent chains on a pool of 1 (no deadlock, each body once)', async () => {
    const keys = ['p1-a', 'p1-b', 'p1-c', 'p1-d'];
    const hs = await Promise.all(
      keys.map((key) => suite.client.start('txReview2.mix', { key, input: { n: 4 } })),
    );
    const results = await Promise.all(hs.map((h) => h.result({ timeout: '40s' })));
    expect(results).toEqual(keys.map(() => 28));
    await check(keys, 4);
  });

  it('a START that fails after its COMMIT: step recorded once, body once', async () => {
    let faults = 0;
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as { text?: string };
      if (typeof q?.text === 'string' && /COMMIT;\nSTART TRANSACTION/.test(q.text) && faults < 5) {
        faults++;
        q.text = q.text.replace(/START TRANSACTION ISOLATION LEVEL [A-Z ]+$/, 'SELECT 1/0');
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    restore = () => (pg.Client.prototype.query = original);
    const keys = ['sf-a', 'sf-b'];
    const results: unknown[] = [];
    for (const key of keys) {
      const h = await suite.client.start('txReview2.mix', { key, input: { n: 3 } });
      results.push(await h.result({ timeout: '40s' }));
    }
    expect(faults).toBeGreaterThan(0);
    expect(results).toEqual(keys.map(() => 21));
    await check(keys, 3);
  });
});

describe('transactional steps back to back: shutdown while a connection is kept (e2e)', () => {
  it('closes the app in the turn a chained COMMIT kept its connection', async () => {
    const { uniqueName, cleanup } = await import('../support/env.js');
    const schema = uniqueName('cf_txreview3');
    const queueName = uniqueName('q_txreview3');
    const app = await bootApp({
      schema,
      queueName,
      providers: [ChainBodies, ChainSteps2, ChainWorkflows2],
    });
    const bodies = app.get(ChainBodies);
    bodies.table = `"${schema}".rows3`;
    await sql(`CREATE TABLE ${bodies.table} (key text NOT NULL, i int NOT NULL)`);
    const { WorkflowClient } = await import('../../lib/index.js');
    const client = app.get(WorkflowClient);
    const pool = app.get(ChronoForgeDatabase).pool;
    let closing: Promise<void> | undefined;
    let prestarts = 0;
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as { text?: string; callback?: (e: unknown, r: unknown) => void };
      if (typeof q?.text === 'string' && /COMMIT;\nSTART TRANSACTION/.test(q.text)) {
        prestarts++;
        const cb = q.callback!;
        if (prestarts === 3)
          q.callback = (e, r) => {
            cb(e, r);
            // The turn this COMMIT's connection is kept in.
            closing = app.close();
          };
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      await client.start('txReview2.mix', { key: 'shut', input: { n: 5 } });
      await expect.poll(() => closing !== undefined, { timeout: 10_000 }).toBe(true);
      await closing;
      expect(pool.totalCount).toBe(0);
    } finally {
      pg.Client.prototype.query = original;
      await cleanup(schema, queueName);
    }
  });
});

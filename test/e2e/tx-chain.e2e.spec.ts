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
import type { IsolationLevel } from '../../lib/database/chrono-forge-database.js';
import { sql } from '../support/env.js';
import { idleInTransaction } from '../support/pool-transactions.js';
import { suiteApp } from '../support/suite.js';

/** The table the step bodies write, and what they saw. */
@Injectable()
class ChainProbe {
  table = '';
  /** Per run key: each step's transaction id and isolation level, in order. */
  readonly seen = new Map<string, Array<{ i: number; xid: string; isolation: string }>>();
  /** Step `fail` throws on its first attempt (after writing its row). */
  readonly failed = new Set<string>();
  /** The `fresh` step waits here before its first statement. */
  gate: { entered: () => void; open: Promise<void> } | undefined;
  readValue: number | undefined;

  note(key: string, entry: { i: number; xid: string; isolation: string }): void {
    const list = this.seen.get(key) ?? [];
    list.push(entry);
    this.seen.set(key, list);
  }
}

const quick = new RetryPolicy({ maxAttempts: 3, base: '10ms', jitter: false });

@Injectable()
class ChainSteps {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly probe: ChainProbe,
  ) {}

  private async write(i: number): Promise<void> {
    const m = this.ctx.manager;
    await m.query(`INSERT INTO ${this.probe.table} (key, i) VALUES ($1, $2)`, [this.ctx.key, i]);
    const [{ xid, isolation }] = (await m.query(
      `SELECT txid_current()::text AS xid, current_setting('transaction_isolation') AS isolation`,
    )) as Array<{ xid: string; isolation: string }>;
    this.probe.note(this.ctx.key, { i, xid, isolation });
  }

  @DurableStep({ transactional: true })
  async rc(i: number): Promise<number> {
    await this.write(i);
    return i;
  }

  @DurableStep({ transactional: true, isolation: 'SERIALIZABLE' })
  async serializable(i: number): Promise<number> {
    await this.write(i);
    return i;
  }

  @DurableStep({ transactional: true, isolation: 'REPEATABLE READ' })
  async repeatable(i: number): Promise<number> {
    await this.write(i);
    return i;
  }

  /** Writes its row, then throws on its first attempt: the row must be rolled back. */
  @DurableStep({ transactional: true, retry: quick })
  async fail(i: number): Promise<number> {
    await this.write(i);
    const tag = `${this.ctx.key}/${i}`;
    if (!this.probe.failed.has(tag)) {
      this.probe.failed.add(tag);
      throw new Error('first attempt fails');
    }
    return i;
  }

  /** Waits (transaction begun, no statement run yet), then reads a value another session set. */
  @DurableStep({ transactional: true, isolation: 'REPEATABLE READ' })
  async fresh(): Promise<number> {
    const gate = this.probe.gate!;
    gate.entered();
    await gate.open;
    const [{ v }] = (await this.ctx.manager.query(
      `SELECT v FROM ${this.probe.table}_value`,
    )) as Array<{ v: number }>;
    this.probe.readValue = v;
    return v;
  }
}

@Injectable()
class ChainWorkflows {
  constructor(private readonly steps: ChainSteps) {}

  /** Transactional steps back to back, at the isolation levels given. */
  @Workflow('txChain.levels')
  async levels(input: { levels: IsolationLevel[] }): Promise<number> {
    let i = 0;
    for (const level of input.levels) {
      if (level === 'SERIALIZABLE') await this.steps.serializable(i);
      else if (level === 'REPEATABLE READ') await this.steps.repeatable(i);
      else await this.steps.rc(i);
      i++;
    }
    return i;
  }

  /** Transactional steps with a timer between them (no step begins in its previous one's turn). */
  @Workflow('txChain.spaced')
  async spaced(input: { n: number }): Promise<number> {
    for (let i = 0; i < input.n; i++) {
      await this.steps.rc(i);
      await delay(5);
    }
    return input.n;
  }

  /** Rounds of transactional steps in parallel. */
  @Workflow('txChain.parallel')
  async parallel(input: { rounds: number; width: number }): Promise<number> {
    for (let r = 0; r < input.rounds; r++)
      await Promise.all(
        Array.from({ length: input.width }, (_, k) => this.steps.rc(r * input.width + k)),
      );
    return input.rounds * input.width;
  }

  /** Steps back to back, one of them failing once (retried in a later pass). */
  @Workflow('txChain.failing')
  async failing(input: { n: number; failAt: number }): Promise<number> {
    for (let i = 0; i < input.n; i++)
      await (i === input.failAt ? this.steps.fail(i) : this.steps.rc(i));
    return input.n;
  }

  /** Two REPEATABLE READ steps back to back, the second reading after another session's commit. */
  @Workflow('txChain.fresh')
  async fresh(): Promise<number> {
    await this.steps.repeatable(0);
    await this.steps.repeatable(1);
    return this.steps.fresh();
  }
}

/** What the engine's connections were sent, by kind (one process: this suite's app). */
function countStatements() {
  const counts = { start: 0, commitThenStart: 0, rollback: 0 };
  const original = pg.Client.prototype.query;
  const patched = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: unknown };
    const text = typeof first === 'string' ? first : String(first?.text ?? '');
    if (text.startsWith('START TRANSACTION')) counts.start++;
    if (/COMMIT;\s*START TRANSACTION/.test(text)) counts.commitThenStart++;
    if (text === 'ROLLBACK') counts.rollback++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  pg.Client.prototype.query = patched as typeof original;
  return { counts, restore: () => (pg.Client.prototype.query = original) };
}

/**
 * Transactional steps back to back: a step's COMMIT begins the next one's transaction on the
 * connection the pass keeps (lib/database/tx-connection.ts).
 */
describe('transactional steps back to back (e2e)', () => {
  const suite = suiteApp('txchain', [ChainProbe, ChainSteps, ChainWorkflows], {
    options: { worker: { concurrency: 2 } },
  });
  let probe: ChainProbe;
  let restore: (() => void) | undefined;

  beforeAll(async () => {
    probe = suite.app.get(ChainProbe);
    probe.table = `"${suite.schema}".chain_rows`;
    await sql(`CREATE TABLE ${probe.table} (key text NOT NULL, i int NOT NULL)`);
    await sql(`CREATE TABLE ${probe.table}_value (v int NOT NULL)`);
    await sql(`INSERT INTO ${probe.table}_value VALUES (1)`);
  });
  afterEach(() => restore?.());

  const rowsOf = async (key: string) =>
    (await sql<{ i: number }>(`SELECT i FROM ${probe.table} WHERE key = $1 ORDER BY i`, [key])).map(
      (r) => r.i,
    );

  /** Engine connections left inside a transaction (none once the turn of a pass ended). */
  const inTransaction = async () =>
    (await idleInTransaction(suite.app.get(ChronoForgeDatabase).pool)).length;

  it('begins each step after the second with no START of its own, one transaction per step', async () => {
    const spy = countStatements();
    restore = spy.restore;
    const levels = Array.from({ length: 8 }, () => 'READ COMMITTED' as const);
    const h = await suite.client.start('txChain.levels', { key: 'rc-8', input: { levels } });
    expect(await h.result({ timeout: '20s' })).toBe(8);
    restore();
    expect(await rowsOf('rc-8')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const seen = probe.seen.get('rc-8')!;
    expect(new Set(seen.map((s) => s.xid)).size).toBe(8);
    // Steps 1 and 2 begin with a START; the COMMITs of steps 2..8 begin the next transaction, and
    // the one begun by the last COMMIT is rolled back at the end of its turn.
    expect(spy.counts.start).toBe(2);
    expect(spy.counts.commitThenStart).toBe(7);
    await expect.poll(() => spy.counts.rollback, { timeout: 2_000 }).toBeGreaterThanOrEqual(1);
    await expect.poll(inTransaction, { timeout: 2_000 }).toBe(0);
  });

  it('runs each step at its own isolation level when the levels change', async () => {
    const levels: IsolationLevel[] = [
      'READ COMMITTED',
      'READ COMMITTED',
      'SERIALIZABLE',
      'SERIALIZABLE',
      'SERIALIZABLE',
      'READ COMMITTED',
      'REPEATABLE READ',
      'READ COMMITTED',
    ];
    const h = await suite.client.start('txChain.levels', { key: 'mixed', input: { levels } });
    expect(await h.result({ timeout: '20s' })).toBe(levels.length);
    const seen = probe.seen.get('mixed')!;
    expect(seen.map((s) => s.isolation)).toEqual(levels.map((l) => l.toLowerCase()));
    expect(new Set(seen.map((s) => s.xid)).size).toBe(levels.length);
    await expect.poll(inTransaction, { timeout: 2_000 }).toBe(0);
  });

  it('pre-starts nothing for steps that do not follow each other in one turn', async () => {
    const spy = countStatements();
    restore = spy.restore;
    const h = await suite.client.start('txChain.spaced', { key: 'spaced', input: { n: 4 } });
    expect(await h.result({ timeout: '20s' })).toBe(4);
    restore();
    expect(await rowsOf('spaced')).toEqual([0, 1, 2, 3]);
    expect(spy.counts.start).toBe(4);
    expect(spy.counts.commitThenStart).toBe(0);
    expect(spy.counts.rollback).toBe(0);
  });

  it('commits parallel transactional steps each once, on their own connections', async () => {
    const h = await suite.client.start('txChain.parallel', {
      key: 'parallel',
      input: { rounds: 4, width: 3 },
    });
    expect(await h.result({ timeout: '20s' })).toBe(12);
    expect(await rowsOf('parallel')).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(new Set(probe.seen.get('parallel')!.map((s) => s.xid)).size).toBe(12);
    await expect.poll(inTransaction, { timeout: 2_000 }).toBe(0);
  });

  it('rolls back a step that fails on a pre-started transaction, and its retry commits', async () => {
    const h = await suite.client.start('txChain.failing', {
      key: 'failing',
      input: { n: 6, failAt: 3 },
    });
    expect(await h.result({ timeout: '20s' })).toBe(6);
    // Step 3's first attempt wrote its row and threw: rolled back; its retry wrote it once.
    expect(await rowsOf('failing')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(probe.seen.get('failing')!.filter((s) => s.i === 3)).toHaveLength(2);
    await expect.poll(inTransaction, { timeout: 2_000 }).toBe(0);
  });

  it('gives a pre-started REPEATABLE READ step the snapshot of its first statement', async () => {
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    let open!: () => void;
    probe.gate = { entered, open: new Promise<void>((r) => (open = r)) };
    await sql(`UPDATE ${probe.table}_value SET v = 1`);
    const h = await suite.client.start('txChain.fresh', { key: 'fresh' });
    await inside;
    // Committed after the step's transaction was begun (by the previous COMMIT), before its
    // first statement: a REPEATABLE READ snapshot is taken then, so the step sees it.
    await sql(`UPDATE ${probe.table}_value SET v = 2`);
    open();
    expect(await h.result({ timeout: '20s' })).toBe(2);
    expect(probe.readValue).toBe(2);
  });
});

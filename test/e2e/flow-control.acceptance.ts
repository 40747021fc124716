import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowNotFoundError } from '../../lib/index.js';
import { acceptanceProviders, BodyLedger } from '../fixtures/limits-acceptance.fixture.js';
import { FlowAcceptanceWorkflows } from '../fixtures/flow-acceptance.fixture.js';
import { bootApp, testModuleOptions } from '../support/app.js';
import { type ChildWorker, ensureCompiled, spawnWorker } from '../support/child-worker.js';
import { cleanup, DATABASE_URL, eventually, sql, uniqueName } from '../support/env.js';

/** The limits acceptance suite's turn (both suites start 4 processes). */
const SUITE_LOCK = 17_017_017;

interface Body {
  grp: string;
  run: string;
  pid: number;
  started_ms: string;
  ended_ms: string | null;
}

/**
 * Issue 17's acceptance for locks, once, singleton and debounce across 3 worker processes, measured
 * by the rows the bodies write (not by the engine's counters). Both queue backends (CF_QUEUE).
 */
describe('flow control across worker processes (e2e)', () => {
  const schema = uniqueName('cf_flowacc');
  const queueName = uniqueName('q_flowacc');
  const workers: ChildWorker[] = [];
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let turn: pg.Client | undefined;

  const bodies = (grp: string) =>
    sql<Body>(`SELECT * FROM ${BodyLedger.table(schema)} WHERE grp = $1 ORDER BY started_ms, id`, [
      grp,
    ]);

  beforeAll(async () => {
    turn = new pg.Client({ connectionString: DATABASE_URL });
    await turn.connect();
    await turn.query('SELECT pg_advisory_lock($1)', [SUITE_LOCK]);
    ensureCompiled();
    process.env.CF_TEST_SCHEMA = schema;
    app = await bootApp({
      schema,
      queueName,
      providers: [...acceptanceProviders, FlowAcceptanceWorkflows],
      options: {
        worker: false,
        database: { ...testModuleOptions({ schema, queueName }).database, poolSize: 2 },
      },
    });
    client = app.get(WorkflowClient);
    await BodyLedger.createTable(schema, (q) => sql(q));
    for (let i = 0; i < 3; i++)
      workers.push(spawnWorker(schema, queueName, {}, 'limits-worker.main.js'));
    await Promise.all(workers.map((w) => w.ready));
  }, 600_000);

  afterAll(async () => {
    for (const w of workers)
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await app?.close();
    await cleanup(schema, queueName);
    await turn?.end();
  });

  it('an ordered lock runs its holders one at a time, in the order their runs started', async () => {
    const WAITERS = 8;
    const first = await client.start('facc.lock', {
      key: 'lock-0',
      input: { delay: 0, wait: WAITERS },
    });
    const handles = [first];
    // Later runs ask first: run n sleeps (WAITERS - n) × 150 ms before it asks for the lock.
    for (let n = 1; n <= WAITERS; n++)
      handles.push(
        await client.start('facc.lock', {
          key: `lock-${n}`,
          input: { delay: (WAITERS - n) * 150 },
        }),
      );
    await Promise.all(handles.map((h) => h.result({ timeout: '2m' })));
    const rows = await bodies('lock');
    expect(rows.map((r) => r.run)).toEqual(
      Array.from({ length: WAITERS + 1 }, (_, n) => `lock-${n}`),
    );
    for (let i = 1; i < rows.length; i++)
      expect(Number(rows[i].started_ms)).toBeGreaterThanOrEqual(Number(rows[i - 1].ended_ms));
    expect(new Set(rows.map((r) => r.pid)).size).toBeGreaterThan(1);
  }, 180_000);

  it('once runs its body once per period under 20 concurrent runs', async () => {
    const handles = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.start('facc.once', { key: `once-${i}` })),
    );
    const results = await Promise.all(handles.map((h) => h.result({ timeout: '2m' })));
    expect(results.filter((r) => r === 'billed')).toHaveLength(1);
    expect(await bodies('once')).toHaveLength(1);
  }, 180_000);

  it("singleton 'queue' runs one run of a key at a time, for its whole life", async () => {
    const handles = [];
    for (let n = 0; n < 6; n++)
      handles.push(
        await client.start('facc.queue', { key: `sq-${n}`, input: { customer: 'c', n } }),
      );
    await Promise.all(handles.map((h) => h.result({ timeout: '2m' })));
    const rows = await bodies('squeue');
    expect(rows).toHaveLength(12);
    const spans = new Map<string, [number, number]>();
    for (const r of rows) {
      const [a, b] = spans.get(r.run) ?? [Infinity, 0];
      spans.set(r.run, [Math.min(a, Number(r.started_ms)), Math.max(b, Number(r.ended_ms))]);
    }
    const sorted = [...spans.values()].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][1]);
  }, 180_000);

  it("singleton 'skip' and 'cancelPrevious' and debounce behave as documented", async () => {
    const active = await client.start('facc.skip', { key: 'sk-1', input: { customer: 'c', n: 1 } });
    const skipped = await client.start('facc.skip', {
      key: 'sk-2',
      input: { customer: 'c', n: 2 },
    });
    expect(skipped.key).toBe('sk-1');
    await expect(client.get('sk-2')).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await client.signal('sk-1', 'go');
    await expect(active.result({ timeout: '1m' })).resolves.toBe(1);

    await client.start('facc.cancel', { key: 'cp-1', input: { customer: 'c', n: 1 } });
    const latest = await client.start('facc.cancel', {
      key: 'cp-2',
      input: { customer: 'c', n: 2 },
    });
    expect(await client.get('cp-1')).toMatchObject({
      state: 'cancelled',
      cancelReason: 'superseded by run cp-2',
    });
    await eventually(async () => (await client.get('cp-2')).state === 'idle', 60_000);
    await client.signal('cp-2', 'go');
    await expect(latest.result({ timeout: '1m' })).resolves.toBe(2);

    const burst = await Promise.all(
      Array.from({ length: 5 }, (_, n) =>
        client.start('facc.debounce', { key: `db-${n}`, input: { customer: 'c', n } }),
      ),
    );
    const outcomes = await Promise.allSettled(burst.map((h) => h.result({ timeout: '1m' })));
    const done = outcomes.filter((o) => o.status === 'fulfilled');
    expect(done).toHaveLength(1);
    const rows = await bodies('debounce');
    expect(rows).toHaveLength(1);
    // The run that ran is the last one started (the advisory lock orders concurrent starts).
    const cancelled = await Promise.all(
      burst.filter((h) => h.key !== rows[0].run).map((h) => client.get(h.key)),
    );
    for (const run of cancelled) expect(run).toMatchObject({ state: 'cancelled' });
    expect(cancelled.map((r) => r.cancelReason)).toContain(`debounced by run ${rows[0].run}`);
  }, 180_000);
});

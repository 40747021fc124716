import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  DurableStep,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, eventually, sql, uniqueName } from '../support/env.js';

/** How often each key's step body started, across the apps of this process. */
const bodies = new Map<string, number>();

@Injectable()
class LongTransactionWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('dedicated.longTx')
  async run(input: { holdMs: number }): Promise<string> {
    await this.book(input.holdMs);
    return 'booked';
  }

  /** A transactional step that keeps its pooled connection busy for `holdMs`. */
  @DurableStep({ transactional: true })
  async book(holdMs: number): Promise<void> {
    bodies.set(this.ctx.key, (bodies.get(this.ctx.key) ?? 0) + 1);
    await this.ctx.manager.query('SELECT pg_sleep($1::float8 / 1000)', [holdMs]);
  }

  @Workflow('dedicated.quick')
  async quick(): Promise<string> {
    return this.ctx.step('one', () => 'done');
  }
}

describe('connections outside the pool: heartbeat and wake-up listener (e2e)', () => {
  const schema = uniqueName('cf_dedic');
  const queueName = uniqueName('q_dedic');
  const apps: INestApplicationContext[] = [];

  const boot = async (options: Parameters<typeof bootApp>[0]['options']) => {
    const app = await bootApp({ schema, queueName, providers: [LongTransactionWorkflow], options });
    apps.push(app);
    return app;
  };

  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
  });
  afterAll(() => cleanup(schema, queueName));

  it('should keep beating while transactional steps hold every pooled connection past deadAfter', async () => {
    const worker = { concurrency: 4, deadAfter: '1500ms' as const };
    const database = { url: DATABASE_URL, schema, poolSize: 2 };
    const a = await boot({ database, worker, recovery: false });
    const client = a.get(WorkflowClient);
    // Two 4 s transactions on a pool of 2: nothing else of this worker gets a pooled connection.
    const keys = ['hold-1', 'hold-2'];
    const handles = await Promise.all(
      keys.map((key) => client.start('dedicated.longTx', { key, input: { holdMs: 4000 } })),
    );
    await eventually(async () => keys.every((k) => bodies.get(k) === 1), 15_000, 'both bodies');
    // A second worker, which takes over the runs of a worker whose heartbeat is older than
    // deadAfter: the step bodies would run again there.
    await boot({ database: { ...database, poolSize: 5 }, worker, recovery: { every: '200ms' } });
    await expect(Promise.all(handles.map((h) => h.result({ timeout: '20s' })))).resolves.toEqual([
      'booked',
      'booked',
    ]);
    expect(keys.map((k) => bodies.get(k))).toEqual([1, 1]);
  });

  it('should run a wake-up notified while the listener was reconnecting, without the sweeper', async () => {
    const app = await boot({ recovery: false });
    const listener = `chronoforge wake-listener ${schema}`;
    const backends = () =>
      sql<{ pid: number; started: Date }>(
        'SELECT pid, backend_start AS started FROM pg_stat_activity WHERE application_name = $1',
        [listener],
      );
    const [old] = await eventually(async () => {
      const rows = await backends();
      return rows.length === 1 && rows;
    });
    await sql('SELECT pg_terminate_backend($1)', [old.pid]);
    await eventually(async () => (await backends()).every((b) => b.pid !== old.pid));
    // Committed while nobody listens: PostgreSQL drops the notification.
    const ds = app.get(ChronoForgeDatabase).dataSource;
    const handle = await ds.transaction((manager) =>
      app.get(WorkflowClient).start('dedicated.quick', { key: 'wake-lost', manager }),
    );
    const [{ committed }] = await sql<{ committed: Date }>('SELECT clock_timestamp() AS committed');
    const [fresh] = await eventually(async () => {
      const rows = await backends();
      return rows.length === 1 && rows[0].pid !== old.pid && rows;
    });
    expect(fresh.started.getTime()).toBeGreaterThan(committed.getTime());
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('done');
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  NotInTransactionError,
  WorkflowClient,
  WorkflowQueue,
} from '../../lib/index.js';
import { bootLedgerClient } from '../support/ledger-app.js';
import { type ChildWorker, ensureCompiled, spawnWorker } from '../support/child-worker.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

describe('exactly-once database steps and transactional start (e2e)', () => {
  const schema = uniqueName('cf_tx');
  const queueName = uniqueName('q_tx');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  const children: ChildWorker[] = [];

  beforeAll(async () => {
    ensureCompiled();
    app = await bootLedgerClient(schema, queueName);
    client = app.get(WorkflowClient);
    await sql(`CREATE TABLE "${schema}".business (id serial PRIMARY KEY, key text NOT NULL)`);
  });

  afterAll(async () => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await app?.close();
    await cleanup(schema, queueName);
  });

  const businessRows = (key: string) =>
    sql(`SELECT id FROM "${schema}".business WHERE key = $1`, [key]);
  const stepLogs = (key: string) =>
    sql<{ state: string }>(
      `SELECT l.state FROM "${schema}".chrono_forge_execution_logs l JOIN "${schema}".chrono_forge_workflows w
       ON w.id = l.workflow_id WHERE w.key = $1 AND l.step_name = 'step$book'`,
      [key],
    );

  it.each(['tx-insert', 'tx-after'])(
    'should write the business row exactly once when killed at %s',
    async (crashAt) => {
      const key = `k-${crashAt}`;
      const crashing = spawnWorker(schema, queueName, { CF_CRASH_AT: crashAt });
      children.push(crashing);
      await crashing.ready;
      const handle = await client.start('ledger.tx', { key });
      expect((await crashing.exited).signal).toBe('SIGKILL');
      expect(await businessRows(key)).toHaveLength(crashAt === 'tx-insert' ? 0 : 1);

      const fresh = spawnWorker(schema, queueName);
      children.push(fresh);
      await fresh.ready;
      await expect(handle.result({ timeout: '20s' })).resolves.toMatch(/^booked \d+$/);
      expect(await businessRows(key)).toHaveLength(1);
      expect(await stepLogs(key)).toEqual([{ state: 'completed' }]);
      fresh.proc.kill('SIGTERM');
      await fresh.exited;
    },
  );

  it('should leave no run and no job when the starting transaction rolls back', async () => {
    const ds = app.get(ChronoForgeDatabase).dataSource;
    const jobIds = async () =>
      (await app.get(WorkflowQueue).bullQueue.getJobs(['waiting', 'delayed', 'active']))
        .map((j) => j.id)
        .sort();
    const before = await jobIds();
    await expect(
      ds.transaction(async (manager) => {
        await client.start('ledger.three', { key: 'k-rolled-back', input: { steps: 1 }, manager });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(
      await sql(`SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = 'k-rolled-back'`),
    ).toHaveLength(0);
    expect(await jobIds()).toEqual(before);
  });

  it('should run a start committed in a transaction without the starting process enqueuing it', async () => {
    const ds = app.get(ChronoForgeDatabase).dataSource;
    const worker = spawnWorker(schema, queueName);
    children.push(worker);
    await worker.ready;
    const handle = await ds.transaction((manager) =>
      client.start('ledger.three', { key: 'k-committed', input: { steps: 2 }, manager }),
    );
    // This process is client-only and enqueued nothing: the worker learns of the run from
    // PostgreSQL (NOTIFY on commit, or the recovery sweeper).
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    worker.proc.kill('SIGTERM');
    await worker.exited;
  });

  it('should refuse a manager that is not in a transaction, and ctx.manager outside a transactional step', async () => {
    const ds = app.get(ChronoForgeDatabase).dataSource;
    await expect(
      client.start('ledger.three', { key: 'k-no-tx', manager: ds.manager }),
    ).rejects.toThrow(/active transaction/);
    expect(NotInTransactionError.name).toBe('NotInTransactionError');
  });
});

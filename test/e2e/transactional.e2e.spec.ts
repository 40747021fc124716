import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  NotInTransactionError,
  WorkflowClient,
  WorkflowQueue,
} from '../../lib/index.js';
import { bootLedgerClient } from '../support/ledger-app.js';
import { suiteWorkers } from '../support/child-worker.js';
import { suiteApp } from '../support/suite.js';
import { sql } from '../support/env.js';

describe('exactly-once database steps and transactional start (e2e)', () => {
  const suite = suiteApp('tx', [], { boot: bootLedgerClient });
  const { schema } = suite;
  const spawnWorker = suiteWorkers(suite);
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    await sql(`CREATE TABLE "${schema}".business (id serial PRIMARY KEY, key text NOT NULL)`);
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
      const crashing = spawnWorker({ CF_CRASH_AT: crashAt });
      await crashing.ready;
      const handle = await client.start('ledger.tx', { key });
      expect((await crashing.exited).signal).toBe('SIGKILL');
      expect(await businessRows(key)).toHaveLength(crashAt === 'tx-insert' ? 0 : 1);

      const fresh = spawnWorker();
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
    const worker = spawnWorker();
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

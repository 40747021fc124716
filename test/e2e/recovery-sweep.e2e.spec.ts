import type { INestApplicationContext } from '@nestjs/common';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowQueue } from '../../lib/index.js';
import { ledgerProviders } from '../fixtures/ledger.fixture.js';
import { bootApp } from '../support/app.js';
import { bootLedgerClient } from '../support/ledger-app.js';
import { cleanup, REDIS_URL, sql, uniqueName } from '../support/env.js';

/**
 * A worker that takes a job and is SIGKILLed before it runs the pass leaves that job `active` in
 * BullMQ until BullMQ's stalled-job check moves it back (30 to 60 s with the default lock duration
 * and stalled interval). The recovery sweeper must not wait for that: re-adding a wake-up under the
 * id of such a job is a no-op, so a run that stays overdue is swept under a fresh job id.
 */
describe.skipIf(process.env.CF_QUEUE === 'postgres')(
  'recovery sweeper and jobs held by a dead worker (e2e)',
  () => {
    const schema = uniqueName('cf_sweep');
    const queueName = uniqueName('q_sweep');
    let client: INestApplicationContext;
    let worker: INestApplicationContext | undefined;
    let connection: Redis;
    let dead: Worker;

    beforeAll(async () => {
      client = await bootLedgerClient(schema, queueName);
      connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      // Takes jobs by hand and never finishes them nor renews their locks: a killed worker.
      dead = new Worker(queueName, null, { connection, autorun: false });
    });

    afterAll(async () => {
      await worker?.close();
      await dead?.close(true);
      await connection?.quit();
      await client?.close();
      await cleanup(schema, queueName);
    });

    it('should run an overdue run whose start and sweep jobs a dead worker holds, well before BullMQ notices', async () => {
      const handle = await client
        .get(WorkflowClient)
        .start('ledger.three', { key: 'k-held', input: { steps: 2 } });
      const started = await dead.getNextJob('dead-worker');
      expect(started?.data).toEqual({ workflowId: handle.id });

      // The sweep a worker would make now, taken by the dead worker as well.
      const [row] = await sql<{ next_run_at: Date }>(
        `SELECT next_run_at FROM "${schema}".chrono_forge_workflows WHERE id = $1`,
        [handle.id],
      );
      await client
        .get(WorkflowQueue)
        .enqueueRecovered([{ id: handle.id, wake: row.next_run_at, stale: false }]);
      const swept = await dead.getNextJob('dead-worker');
      expect(swept?.id).toMatch(/sweep/);

      const t0 = Date.now();
      worker = await bootApp({
        schema,
        queueName,
        providers: ledgerProviders,
        options: { recovery: { every: '250ms' } },
      });
      await expect(handle.result({ timeout: '15s' })).resolves.toBe('done');
      // BullMQ's own stalled-job check could not have released the held jobs this early.
      expect(Date.now() - t0).toBeLessThan(15_000);
      const steps = await sql<{ step: string; n: number }>(
        `SELECT step, count(*)::int AS n FROM "${schema}".ledger WHERE key = 'k-held' GROUP BY step ORDER BY step`,
      );
      expect(steps).toEqual([
        { step: 'step1', n: 1 },
        { step: 'step2', n: 1 },
      ]);
    });
  },
);

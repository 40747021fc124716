import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import pg from 'pg';
import type { EntityManager } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  ChronoForgeMetrics,
  InvalidTransitionError,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, eventually, sql, uniqueName } from '../support/env.js';

@Injectable()
class SignalWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('sig.wait')
  async wait(): Promise<unknown> {
    return this.ctx.waitForSignal('go', { timeout: '1h' });
  }
}

describe('signals inside transactions and racing a cancel (e2e)', () => {
  const schema = uniqueName('cf_sigtx');
  const queueName = uniqueName('q_sigtx');
  const wf = `"${schema}".chrono_forge_workflows`;
  const signals = `"${schema}".chrono_forge_signals`;
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: [SignalWorkflows] });
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  const transaction = <T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> =>
    app.get(ChronoForgeDatabase).dataSource.transaction(fn);
  const started = async (): Promise<number> => {
    const metric = await app.get(ChronoForgeMetrics).runsStarted.get();
    return metric.values.find((v) => v.labels.workflow === 'sig.wait')?.value ?? 0;
  };

  it('should start a run and signal it in the same transaction', async () => {
    await transaction(async (manager) => {
      await client.start('sig.wait', { key: 'tx-start-signal', manager });
      await client.signal('tx-start-signal', 'go', { paid: 42 }, { manager });
    });
    const handle = await client.handle('tx-start-signal');
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ paid: 42 });
  });

  it('should store neither run nor signal when that transaction rolls back', async () => {
    await expect(
      transaction(async (manager) => {
        await client.start('sig.wait', { key: 'tx-rolled-back', manager });
        await client.signal('tx-rolled-back', 'go', 1, { manager });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await sql(`SELECT 1 FROM ${wf} WHERE key = 'tx-rolled-back'`)).toEqual([]);
  });

  // A cancel (as client.cancel() writes it) or a completion, in flight: not committed yet.
  it.each(['cancelled', 'completed'])(
    'should refuse a signal that races a change to %s committed while it waited',
    async (terminal) => {
      const key = `race-${terminal}`;
      await client.start('sig.wait', { key });
      await eventually(
        async () =>
          (await sql(`SELECT 1 FROM ${wf} WHERE key = $1 AND state = 'idle'`, [key])).length,
      );
      const other = new pg.Client({ connectionString: DATABASE_URL });
      await other.connect();
      try {
        await other.query('BEGIN');
        const [{ ended_at }] = (
          await other.query<{ ended_at: Date }>(
            `UPDATE ${wf} SET state = $2, locked_at = NULL, locked_by = NULL, next_run_at = NULL,
               wake_pending = false, finished_at = now(), updated_at = now()
             WHERE key = $1 RETURNING updated_at AS ended_at`,
            [key, terminal],
          )
        ).rows;
        const signalled = client.signal(key, 'go', 'late').then(
          () => 'accepted',
          (e: unknown) => e,
        );
        await eventually(
          async () =>
            (
              await sql(
                `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
                [`%${schema}%chrono_forge_signals%`],
              )
            ).length,
          10_000,
          'the signal to wait for the other transaction',
        );
        await other.query('COMMIT');
        const outcome = await signalled;
        expect(outcome).toBeInstanceOf(InvalidTransitionError);
        expect((outcome as Error).message).toContain(terminal);
        expect(
          await sql(
            `SELECT s.id FROM ${signals} s JOIN ${wf} w ON w.id = s.workflow_id WHERE w.key = $1`,
            [key],
          ),
        ).toEqual([]);
        const [row] = await sql<{ updated_at: Date }>(
          `SELECT updated_at FROM ${wf} WHERE key = $1`,
          [key],
        );
        expect(row.updated_at).toEqual(ended_at);
      } finally {
        await other.end();
      }
    },
  );

  it('should count runs_started_total only for transactional starts that commit', async () => {
    const before = await started();
    await expect(
      transaction(async (manager) => {
        await client.start('sig.wait', { key: 'count-rolled-back', manager });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await transaction(async (manager) => {
      // A savepoint that rolls back inside a transaction that commits.
      await manager
        .transaction(async (inner) => {
          await client.start('sig.wait', { key: 'count-savepoint', manager: inner });
          throw new Error('inner rolled back');
        })
        .catch(() => undefined);
      await client.start('sig.wait', { key: 'count-committed', manager });
      expect(await started()).toBe(before); // not before the commit
    });
    expect(await started()).toBe(before + 1);
    expect(
      (await sql<{ key: string }>(`SELECT key FROM ${wf} WHERE key LIKE 'count-%'`)).map(
        (r) => r.key,
      ),
    ).toEqual(['count-committed']);
  });
});

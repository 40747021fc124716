import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';

/** Served only by app A: a compensated step, then a long sleep. */
@Injectable()
class Reservations {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('unserved.reserve', { maxDuration: '5s' })
  async reserve(): Promise<string> {
    await this.ctx.step('reserve', () => 'r1', { compensate: () => undefined });
    await this.ctx.sleep('1h');
    return 'done';
  }
}

/** Served only by app B. */
@Injectable()
class Other {
  @Workflow('unserved.other')
  async other(): Promise<string> {
    return 'other';
  }
}

/**
 * A worker that does not register a run's workflow must leave a rollback (`compensating`) as it
 * is, for a worker that does: it used to release every run it could not serve as `idle`, so the
 * rollback (a cancel with compensate, an @OnCancel cleanup, a child its parent rolls back) was
 * dropped and the run went forward again.
 */
describe('a rollback taken by a worker that does not serve its workflow (e2e)', () => {
  const schema = uniqueName('cf_unsrv');
  const queueName = uniqueName('q_unsrv');
  const apps: INestApplicationContext[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
    await cleanup(schema, queueName);
  });

  it('should keep the run compensating until a worker that serves it rolls it back', async () => {
    const a = await bootApp({ schema, queueName, providers: [Reservations] });
    await a.get(WorkflowClient).start('unserved.reserve', { key: 'res-1' });
    // Asleep: its step completed, its timer stored, the pass ended.
    await eventually(
      async () =>
        (
          await sql(
            `SELECT 1 FROM "${schema}".chrono_forge_workflows w
             JOIN "${schema}".chrono_forge_execution_logs l ON l.workflow_id = w.id
             WHERE w.key = 'res-1' AND w.state = 'idle' AND w.locked_by IS NULL
               AND l.step_name LIKE 'wait$%'`,
          )
        ).length > 0,
      10_000,
      'asleep',
    );
    await a.close();
    const b = await bootApp({ schema, queueName, providers: [Other] });
    apps.push(b);
    const client = b.get(WorkflowClient);
    await client.cancel('res-1', { compensate: true });
    // B's worker takes the rollback's wake-up and leaves the run (unknown workflow).
    await eventually(
      async () => {
        const [row] = await sql<{ attempts: number }>(
          `SELECT count(*)::int AS attempts FROM "${schema}".chrono_forge_workflows
           WHERE key = 'res-1' AND (state <> 'compensating' OR next_run_at > now())`,
        );
        return row!.attempts > 0;
      },
      10_000,
      'left by B',
    );
    expect((await client.get('res-1')).state).toBe('compensating');
    // B leaves a run of a workflow it does not know for 60 s (UNKNOWN_WORKFLOW_RETRY_MS): the
    // test skips that wait; A's worker boots and its recovery sweep finds the overdue rollback.
    await sql(
      `UPDATE "${schema}".chrono_forge_workflows SET next_run_at = now() - interval '5 seconds' WHERE key = 'res-1'`,
    );
    await apps.pop()!.close();
    const a2 = await bootApp({ schema, queueName, providers: [Reservations] });
    apps.push(a2);
    const ended = await eventually(
      async () => {
        const run = await a2.get(WorkflowClient).get('res-1');
        return run.state === 'compensating' ? null : run;
      },
      20_000,
      'rolled back',
    );
    expect(ended.state).toBe('compensated');
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeMetrics, WorkflowClient, WorkflowQueue } from '../../lib/index.js';
import { BodyLedger, doubleExecutionProviders } from '../fixtures/double-execution.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('a pass that lost its lock (e2e)', () => {
  const suite = suiteApp('lost', doubleExecutionProviders);
  const { schema } = suite;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let ledger: BodyLedger;

  /** Passes of `workflow` that ended with `outcome`, as the metrics counted them. */
  const passes = async (workflow: string, outcome: string): Promise<number> => {
    const { values } = await app.get(ChronoForgeMetrics).passes.get();
    return values
      .filter((v) => v.labels.workflow === workflow && v.labels.outcome === outcome)
      .reduce((sum, v) => sum + v.value, 0);
  };

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    ledger = app.get(BodyLedger);
  });

  it('should start no step body or wait check after cancel, though the workflow catches every error', async () => {
    await client.start('double.catchAllLoop', { key: 'cancel-1', input: { n: 4 } });
    await eventually(async () => ledger.count('cancel-1', 'item2') === 1, 15_000, 'item 2 body');
    await client.cancel('cancel-1');
    ledger.open('cancel-1');
    await eventually(async () => (await passes('double.catchAllLoop', 'lock_lost')) === 1);
    // item 2's body was running when the run was cancelled; nothing started after it. Its refused
    // checkpoint is caught; later calls are refused too, and once the pass ended they never settle.
    expect(ledger.list('cancel-1').filter((e) => !e.startsWith('caught'))).toEqual([
      'item1',
      'check1',
      'item2',
    ]);
    expect(ledger.list('cancel-1')).toContain('caught2');
    const run = await client.get('cancel-1');
    expect(run.state).toBe('cancelled');
    expect(run.steps.map((s) => s.name)).not.toContain('step$item#2');
  });

  it('should end a superseded pass at its refused checkpoint instead of adopting the result and going on', async () => {
    const handle = await client.start('double.superseded', { key: 'super-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('charged');
    // The first pass outlived maxDuration; another pass took the run over and completed it.
    // The first pass's checkpoint of `one` is refused: it must end there.
    await eventually(async () => (await passes('double.superseded', 'lock_lost')) === 1);
    expect(ledger.list('super-1')).toEqual(['one', 'one', 'two', 'charge']);
    expect((await client.get('super-1')).state).toBe('completed');
  });

  it('should end a pass whose lock an operator cleared (dashboard unlock) at its refused checkpoint', async () => {
    const handle = await client.start('double.unlocked', { key: 'unlock-1', input: {} });
    await eventually(async () => ledger.count('unlock-1', 'one') === 1, 15_000, 'step one body');
    // The dashboard's unlock: clear the lock, make the run idle and due now, enqueue it.
    const [row] = await sql<{ id: string; next_run_at: Date }>(
      `UPDATE "${schema}".chrono_forge_workflows SET state = 'idle', locked_at = NULL, locked_by = NULL,
         next_run_at = now(), wake_pending = false, updated_at = now()
       WHERE key = 'unlock-1' AND state = 'running' RETURNING id, next_run_at`,
    );
    await app.get(WorkflowQueue).enqueueRun(row.id, row.next_run_at);
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('charged');
    await eventually(async () => (await passes('double.unlocked', 'lock_lost')) === 1);
    expect(ledger.list('unlock-1')).toEqual(['one', 'one', 'two', 'charge']);
  });
});

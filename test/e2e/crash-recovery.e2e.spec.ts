import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { bootLedgerClient } from '../support/ledger-app.js';
import { suiteWorkers } from '../support/child-worker.js';
import { suiteApp } from '../support/suite.js';
import { eventually, sql } from '../support/env.js';

describe('crash recovery with real worker processes (e2e)', () => {
  const suite = suiteApp('crash', [], { boot: bootLedgerClient });
  const { schema } = suite;
  const spawnWorker = suiteWorkers(suite);
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    // This process only starts runs; the work happens in child processes.
    app = suite.app;
    client = suite.client;
  });

  const ledger = (key: string) =>
    sql<{ step: string; n: number }>(
      `SELECT step, count(*)::int AS n FROM "${schema}".ledger WHERE key = $1 GROUP BY step ORDER BY step`,
      [key],
    );

  it('should finish a run on a new worker after SIGKILL, without re-running committed steps', async () => {
    const crashing = spawnWorker({ CF_CRASH_AT: 'step3' });
    await crashing.ready;
    const handle = await client.start('ledger.three', { key: 'k-crash', input: { steps: 3 } });
    const exit = await crashing.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(await ledger('k-crash')).toEqual([
      { step: 'step1', n: 1 },
      { step: 'step2', n: 1 },
    ]);
    expect(await handle.status()).toBe('running');

    const fresh = spawnWorker();
    await fresh.ready;
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    expect(await ledger('k-crash')).toEqual([
      { step: 'step1', n: 1 },
      { step: 'step2', n: 1 },
      { step: 'step3', n: 1 },
    ]);
    const rows = await sql<{ pid: number; step: string }>(
      `SELECT pid, step FROM "${schema}".ledger WHERE key = 'k-crash' AND step = 'step3'`,
    );
    expect(rows[0].pid).toBe(fresh.proc.pid);
    fresh.proc.kill('SIGTERM');
    expect((await fresh.exited).code).toBe(0);
  });

  it('should take over the lock of a dead worker by its heartbeat, long before maxDuration', async () => {
    const crashing = spawnWorker({ CF_CRASH_AT: 'step2' });
    await crashing.ready;
    const handle = await client.start('ledger.longLock', {
      key: 'k-heartbeat',
      input: { steps: 3 },
    });
    expect((await crashing.exited).signal).toBe('SIGKILL');
    expect(await handle.status()).toBe('running');
    const killedAt = Date.now();
    const fresh = spawnWorker();
    await fresh.ready;
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    // maxDuration is 10 minutes; the dead worker's heartbeat (deadAfter 1 s) freed the lock.
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    expect(await ledger('k-heartbeat')).toEqual([
      { step: 'step1', n: 1 },
      { step: 'step2', n: 1 },
      { step: 'step3', n: 1 },
    ]);
    fresh.proc.kill('SIGTERM');
    await fresh.exited;
  });

  it('should run every step exactly once with two worker processes and duplicate jobs', async () => {
    const a = spawnWorker();
    const b = spawnWorker();
    await Promise.all([a.ready, b.ready]);
    const queue = app.get(WorkflowClient);
    const handles = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        queue.start('ledger.three', { key: `k-dup-${i}`, input: { steps: 5 } }),
      ),
    );
    // Flood the queue with duplicate wake-ups for every run.
    const { WorkflowQueue } = await import('../../lib/index.js');
    const wq = app.get(WorkflowQueue);
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        handles.map((h) => wq.enqueueRun(h.id, new Date(Date.now() + round), `dup-${round}`)),
      );
      await Promise.all(
        handles.map((h) =>
          wq.bullQueue.add('run', { workflowId: h.id }, { jobId: `dup-${h.id}-${round}` }),
        ),
      );
    }
    await Promise.all(handles.map((h) => h.result({ timeout: '30s' })));
    const counts = await sql<{ key: string; step: string; n: number }>(
      `SELECT key, step, count(*)::int AS n FROM "${schema}".ledger WHERE key LIKE 'k-dup-%' GROUP BY key, step`,
    );
    expect(counts).toHaveLength(100);
    expect(counts.every((c) => c.n === 1)).toBe(true);
    const pids = new Set(
      (
        await sql<{ pid: number }>(
          `SELECT DISTINCT pid FROM "${schema}".ledger WHERE key LIKE 'k-dup-%'`,
        )
      ).map((r) => r.pid),
    );
    expect(pids.size).toBe(2);
    const dupLogs = await sql(
      `SELECT workflow_id, step_name FROM "${schema}".chrono_forge_execution_logs GROUP BY 1, 2 HAVING count(*) > 1`,
    );
    expect(dupLogs).toHaveLength(0);
    await eventually(
      async () => (await client.list({ state: ['idle', 'running'] })).length === 0,
      5_000,
      'no open runs',
    );
    a.proc.kill('SIGTERM');
    b.proc.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  });
});

import { describe, expect, it } from 'vitest';
import { bootLedgerClient } from '../support/ledger-app.js';
import { ensureCompiled, spawnWorker, suiteWorkers } from '../support/child-worker.js';
import { suiteApp } from '../support/suite.js';
import { sql } from '../support/env.js';

/** A worker that dies while it runs starts in place: another worker finishes every stored run. */
describe('start in place: a crashed worker (e2e)', () => {
  const suite = suiteApp('inplace_crash', [], { boot: bootLedgerClient });
  const { schema, queueName } = suite;
  const spawnFresh = suiteWorkers(suite);

  it('finishes the runs a SIGKILLed worker started in place, each step body once after it committed', async () => {
    ensureCompiled();
    const keys = Array.from({ length: 8 }, (_, i) => `crash-${i}`);
    const crashing = spawnWorker(
      schema,
      queueName,
      { CF_START_KEYS: keys.join(','), CF_CRASH_AT: 'step2' },
      'in-place-worker.main.js',
    );
    const exit = await crashing.exited;
    expect(exit.signal, crashing.output()).toBe('SIGKILL');
    // What the dead worker left: runs stored, some locked by it, none past step 1.
    const stored = await sql<{ key: string; state: string }>(
      `SELECT key, state FROM "${schema}".chrono_forge_workflows ORDER BY id`,
    );
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.every((r) => r.state === 'idle' || r.state === 'running')).toBe(true);
    const before = await sql<{ key: string; step: string }>(
      `SELECT key, step FROM "${schema}".ledger`,
    );
    expect(before.every((r) => r.step === 'step1')).toBe(true);

    const fresh = spawnFresh();
    await fresh.ready;
    for (const { key } of stored) {
      const handle = await suite.client.handle(key);
      await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    }
    const counts = await sql<{ key: string; step: string; n: number }>(
      `SELECT key, step, count(*)::int AS n FROM "${schema}".ledger GROUP BY key, step`,
    );
    for (const { key } of stored) {
      const of = (step: string) => counts.find((c) => c.key === key && c.step === step)?.n ?? 0;
      // step 1 ran before the crash (and may run again if it died before its checkpoint); steps
      // 2 and 3 ran once, on the fresh worker.
      expect(of('step1')).toBeGreaterThanOrEqual(1);
      expect(of('step1')).toBeLessThanOrEqual(2);
      expect([of('step2'), of('step3')]).toEqual([1, 1]);
    }
  });
});

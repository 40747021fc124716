import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type ChronoForgeModuleOptions, WorkflowClient } from '../../lib/index.js';
import { PassSlots } from '../../lib/executor/pass-slots.js';
import { WorkflowExecutor } from '../../lib/executor/workflow.executor.js';
import { InPlaceGate, InPlaceWorkflows } from '../fixtures/in-place.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';

/**
 * Review finding: a worker whose in-place passes hold its slots must not fetch queue jobs it cannot
 * run (they would wait in it while an idle worker could run them).
 */
describe('start in place beside another worker (e2e)', () => {
  const schema = uniqueName('cf_inplace_w');
  const queueName = uniqueName('q_inplace_w');
  const apps: INestApplicationContext[] = [];
  afterAll(async () => {
    vi.restoreAllMocks();
    for (const app of apps.reverse()) await app.close();
    await cleanup(schema, queueName);
  });

  it('runs the child a parent started and waits for, while the parent runs in place', async () => {
    const providers = [InPlaceGate, InPlaceWorkflows];
    // B, idle, boots first; A runs the parents in place (sweeper slow: it rescues nothing here).
    const options = (startInPlace: boolean): Partial<ChronoForgeModuleOptions> => ({
      worker: { concurrency: 3, startInPlace },
      recovery: { every: '30s' },
    });
    apps.push(await bootApp({ schema, queueName, providers, options: options(false) }));
    const a = await bootApp({ schema, queueName, providers, options: options(true) });
    apps.push(a);
    const inPlace: string[] = [];
    const executor = a.get(WorkflowExecutor);
    const runPass = executor.runPass.bind(executor);
    vi.spyOn(executor, 'runPass').mockImplementation((id, jobId) => {
      if (jobId.startsWith('inplace-')) inPlace.push(id);
      return runPass(id, jobId);
    });
    const client = a.get(WorkflowClient);
    const gate = a.get(InPlaceGate);
    // Two parents at a time hold two of A's three slots in place; their children are queued.
    // NOTE: the gate holds the parents' steps until both started: a child started by the first
    // parent before the second parent's start took the last in-place slot (CI, under load).
    const slots = a.get(PassSlots);
    for (let round = 0; round < 3; round++) {
      // The last round's passes have given their slots back (they end just after their results).
      await expect.poll(() => slots.active, { timeout: 5_000 }).toBe(0);
      gate.close();
      const parents = await Promise.all(
        [0, 1].map((i) => client.start('inplace.parent', { key: `p${round}-${i}` })),
      );
      gate.release();
      for (const parent of parents) {
        await expect(parent.result({ timeout: '10s' })).resolves.toBe('child-done');
        expect(inPlace).toContain(parent.id);
      }
    }
  });
});

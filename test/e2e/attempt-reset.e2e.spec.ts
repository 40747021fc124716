import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowFailedError } from '../../lib/index.js';
import { persistProviders } from '../fixtures/persist.fixture.js';
import { suiteApp } from '../support/suite.js';

/**
 * The workflow-level attempt count counts failed passes since the last progress (a pass that
 * completed a step, timer, signal, branch, merge or repeat tick), as in the original ChronoForge.
 */
describe('workflow attempt count starts over after progress (e2e)', () => {
  const suite = suiteApp('att', persistProviders);
  let client: WorkflowClient;

  beforeAll(async () => {
    client = suite.client;
  });

  it('should complete three phases with one transient error each under a 2-attempt policy', async () => {
    const handle = await client.start('persist.phases', { key: 'phases-1' });
    // ctx.attempt in the last pass: the pass before it reached a new sleep (progress).
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual([1, 1, 1]);
    const run = await client.get('phases-1');
    expect(run.errors.map((e) => [e.stepName, e.attempt, e.errorClass])).toEqual([
      [null, 1, 'TransientError'],
      [null, 1, 'TransientError'],
      [null, 1, 'TransientError'],
    ]);
  });

  it('should still fail after 2 attempts when no pass made progress in between', async () => {
    const handle = await client.start('persist.noProgress', { key: 'stuck-1' });
    await expect(handle.result({ timeout: '20s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    const run = await client.get('stuck-1');
    expect(run.state).toBe('failed');
    // The first pass completed step$only (progress): its error is attempt 1; the second pass
    // reached nothing new: attempt 2 exhausts the policy.
    expect(run.errors.map((e) => [e.stepName, e.attempt])).toEqual([
      [null, 1],
      [null, 2],
    ]);
  });
});

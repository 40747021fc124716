import { beforeEach, describe, expect, it } from 'vitest';
import { TestClock, WorkflowWorker } from '../../lib/index.js';
import { deployed, VersioningBodies, versioningProviders } from '../fixtures/versioning.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

const HOUR = 3600_000;

describe('non-determinism detection and patches (e2e)', () => {
  const clock = new TestClock();
  const suite = suiteApp('ver', versioningProviders, { clock });
  const bodies = () => suite.app.get(VersioningBodies);

  beforeEach(() => {
    deployed.code = 'v1';
  });

  /** Waits until run `key` sleeps at `wait$pause`. */
  const paused = (key: string) =>
    eventually(
      async () => {
        const run = await suite.client.get(key);
        return run.state === 'idle' && run.steps.some((s) => s.name === 'wait$pause');
      },
      30_000,
      `${key} paused`,
    );

  /** Ends every sleep: the clock jumps an hour and the sweeper re-enqueues the overdue runs. */
  const wake = async () => {
    clock.advance(HOUR + 1);
    await suite.app.get(WorkflowWorker).sweep();
  };

  it('should stall a run whose code inserted a step before recorded ones, naming both calls', async () => {
    await suite.client.start('versioning.flow', { key: 'nd-1' });
    await paused('nd-1');
    deployed.code = 'inserted';
    await wake();
    const run = await eventually(
      async () => {
        const r = await suite.client.get('nd-1');
        return r.state === 'stalled' && r;
      },
      30_000,
      'nd-1 stalled',
    );
    const error = run.errors.find((e) => e.errorClass === 'NonDeterminismError');
    expect(error?.message).toContain('step "B" (step$B)');
    expect(error?.message).toContain('step "X" (step$X)');
    expect(error?.message).toContain("ctx.patched('<change id>')");
    // Never executed against the wrong history: X and C never ran.
    expect(bodies().list('nd-1')).toEqual(['A', 'B']);
    // Reverted code and a retry: the run completes on its recorded history.
    deployed.code = 'v1';
    await suite.client.retry('nd-1');
    await wake();
    const handle = await suite.client.handle('nd-1');
    await expect(handle.result({ timeout: '30s' })).resolves.toEqual(['A', 'B', 'C']);
    expect(bodies().list('nd-1')).toEqual(['A', 'B', 'C']);
  });

  it('should stall a run whose code removed a recorded step', async () => {
    await suite.client.start('versioning.flow', { key: 'nd-2' });
    await paused('nd-2');
    deployed.code = 'removed';
    await wake();
    const run = await eventually(
      async () => {
        const r = await suite.client.get('nd-2');
        return r.state === 'stalled' && r;
      },
      30_000,
      'nd-2 stalled',
    );
    const error = run.errors.find((e) => e.errorClass === 'NonDeterminismError');
    expect(error?.message).toContain('step "B" (step$B)');
    expect(error?.message).toContain('wait "pause" (wait$pause)');
    expect(bodies().list('nd-2')).toEqual(['A', 'B']);
  });

  it('should complete an old run without a patched change and run it for new runs', async () => {
    await suite.client.start('versioning.flow', { key: 'pt-old' });
    await paused('pt-old');
    deployed.code = 'patched';
    await suite.client.start('versioning.flow', { key: 'pt-new' });
    await paused('pt-new');
    await wake();
    const old = await suite.client.handle('pt-old');
    const fresh = await suite.client.handle('pt-new');
    await expect(old.result({ timeout: '30s' })).resolves.toEqual(['A', 'B', 'C']);
    await expect(fresh.result({ timeout: '30s' })).resolves.toEqual(['A', 'X', 'B', 'C']);
    expect(bodies().list('pt-old')).toEqual(['A', 'B', 'C']);
    expect(bodies().list('pt-new')).toEqual(['A', 'X', 'B', 'C']);
  });

  it('should replay a run recorded with the patch once the patch is deprecated', async () => {
    deployed.code = 'patched';
    await suite.client.start('versioning.flow', { key: 'dp-1' });
    await paused('dp-1');
    deployed.code = 'deprecated';
    await suite.client.start('versioning.flow', { key: 'dp-2' });
    await paused('dp-2');
    await wake();
    for (const key of ['dp-1', 'dp-2']) {
      const result = (await suite.client.handle(key)).result({ timeout: '30s' });
      await expect(result).resolves.toEqual(['A', 'X', 'B', 'C']);
      expect(bodies().list(key)).toEqual(['A', 'X', 'B', 'C']);
    }
  });

  it('should keep parallel calls at deterministic positions (no false divergence)', async () => {
    const keys = ['par-1', 'par-2', 'par-3', 'par-4'];
    for (const key of keys) await suite.client.start('versioning.parallel', { key });
    for (const key of keys) await paused(key);
    await wake();
    for (const key of keys) {
      const result = (await suite.client.handle(key)).result({ timeout: '30s' });
      await expect(result).resolves.toBe('a1a2+b1b2end');
    }
  });
});

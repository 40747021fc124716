import { beforeEach, describe, expect, it } from 'vitest';
import { TestClock, WorkflowWorker } from '../../lib/index.js';
import { VersioningBodies } from '../fixtures/versioning.fixture.js';
import { shapesCode, shapesProviders } from '../fixtures/versioning-shapes.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

const HOUR = 3600_000;

/** Positions of parallel calls and of branch bodies: a renamed call stalls the run, naming both. */
describe('non-determinism in parallel calls and branch bodies (e2e)', () => {
  const clock = new TestClock();
  const suite = suiteApp('vshape', shapesProviders, { clock });
  const bodies = () => suite.app.get(VersioningBodies);

  beforeEach(() => {
    shapesCode.code = 'v1';
  });

  /** Waits until run `key` sleeps at timer `wait`. */
  const sleeping = (key: string, wait: string) =>
    eventually(
      async () => {
        const run = await suite.client.get(key);
        return run.state === 'idle' && run.steps.some((s) => s.name === wait);
      },
      60_000,
      `${key} sleeping at ${wait}`,
    );

  /** Ends every sleep: the clock jumps an hour and the sweeper re-enqueues the overdue runs. */
  const wake = async () => {
    clock.advance(HOUR + 1);
    await suite.app.get(WorkflowWorker).sweep();
  };

  const stalled = async (key: string) => {
    const run = await eventually(
      async () => {
        const r = await suite.client.get(key);
        return r.state === 'stalled' && r;
      },
      60_000,
      `${key} stalled`,
    );
    return run.errors.find((e) => e.errorClass === 'NonDeterminismError')?.message ?? '';
  };

  /** Runs `workflow` to its first sleep on v1, deploys `code`, wakes it: returns the stall message. */
  const divergeAfterDeploy = async (
    workflow: string,
    key: string,
    wait: string,
    code: typeof shapesCode.code,
  ) => {
    await suite.client.start(workflow, { key });
    await sleeping(key, wait);
    shapesCode.code = code;
    await wake();
    return stalled(key);
  };

  it('should stall on a renamed step of a Promise.all before running it, naming both calls', async () => {
    const message = await divergeAfterDeploy('shapes.all', 'all-1', 'wait$nap', 'all-step');
    expect(message).toContain('at position 1');
    expect(message).toContain('step "b" (step$b)');
    expect(message).toContain('step "b2" (step$b2)');
    expect(bodies().list('all-1').sort()).toEqual(['a', 'b']);
  });

  it('should stall on a renamed timer of a Promise.all', async () => {
    const message = await divergeAfterDeploy('shapes.all', 'all-2', 'wait$nap', 'all-timer');
    expect(message).toContain('wait "nap" (wait$nap)');
    expect(message).toContain('wait "nap2" (wait$nap2)');
    expect(bodies().list('all-2')).not.toContain('c');
  });

  it('should stall on a renamed call of a parallel chain once the chains settled', async () => {
    const message = await divergeAfterDeploy('shapes.chain', 'chain-1', 'wait$pause', 'chain');
    expect(message).toContain('step "a2" (step$a2)');
    expect(message).toContain('step "a2x" (step$a2x)');
    // Caught before the timer after the chains: "end" never ran.
    expect(bodies().list('chain-1')).not.toContain('end');
  });

  it('should stall on a renamed step or timer of an open branch body', async () => {
    const step = await divergeAfterDeploy('shapes.branch', 'br-1', 'wait$inner', 'branch-step');
    expect(step).toContain('step "in1" in branch "fan" (branch$fan>step$in1)');
    expect(step).toContain('step "in1x" in branch "fan" (branch$fan>step$in1x)');
    expect(bodies().list('br-1')).toEqual(['in1']);
    shapesCode.code = 'v1';
    const timer = await divergeAfterDeploy('shapes.branch', 'br-2', 'wait$inner', 'branch-timer');
    expect(timer).toContain('wait "inner2" in branch "fan" (branch$fan>wait$inner2)');
    expect(bodies().list('br-2')).toEqual(['in1']);
  });

  it('should complete unchanged runs of every shape', async () => {
    const keys: Array<[string, string, string]> = [
      ['shapes.all', 'ok-all', 'wait$nap'],
      ['shapes.chain', 'ok-chain', 'wait$pause'],
      ['shapes.branch', 'ok-branch', 'wait$inner'],
    ];
    for (const [workflow, key] of keys) await suite.client.start(workflow, { key });
    for (const [, key, wait] of keys) await sleeping(key, wait);
    await wake();
    await sleeping('ok-branch', 'wait$post');
    await wake();
    const results = await Promise.all(
      keys.map(async ([, key]) => (await suite.client.handle(key)).result({ timeout: '60s' })),
    );
    expect(results).toEqual(['abc', 'a1a2+b1b2end', 'after']);
  });

  it('should ignore a change of a branch body once the branch sealed (its body does not run again)', async () => {
    await suite.client.start('shapes.branch', { key: 'sealed-1' });
    await sleeping('sealed-1', 'wait$inner');
    await wake();
    await sleeping('sealed-1', 'wait$post');
    const { history } = (await suite.client.export('sealed-1')).run;
    expect(history?.slice(0, 4)).toEqual([
      'branch$fan',
      'branch$fan>step$in1',
      'branch$fan>wait$inner',
      'branch$fan>step$in2',
    ]);
    expect(history?.at(-1)).toBe('wait$post');
    shapesCode.code = 'branch-step';
    await wake();
    const handle = await suite.client.handle('sealed-1');
    await expect(handle.result({ timeout: '60s' })).resolves.toBe('after');
    expect(bodies().list('sealed-1')).toEqual(['in1', 'in2', 'after']);
  });
});

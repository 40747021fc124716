import { describe, expect, it } from 'vitest';
import { StateKeyWorkflows } from '../fixtures/state-keys.fixture.js';
import { suiteHarness } from '../support/suite.js';

/**
 * A durable state key PostgreSQL cannot store is refused by `ctx.state.set` with a named error,
 * like such a value: stored, it made every later write of the run fail (the run stayed locked).
 * Nor can such a value get in by changing what `ctx.state.get` returned.
 */
describe('durable state keys (e2e)', () => {
  const suite = suiteHarness([StateKeyWorkflows]);

  it('should refuse a state key with a NUL character with StateValueError', async () => {
    await suite.harness.client.start('stateKeys.nul', { key: 'nul' });
    const run = await suite.harness.runToCompletion('nul', { timeout: '15s' });
    expect(run).toMatchObject({ state: 'completed', result: 'StateValueError' });
  });

  // Before: get returned the stored object itself; the NUL written into it reached the step's
  // checkpoint unchecked (22P05), an engine fault re-running the pass for ever.
  it('should keep a stored value as set when the value read back is changed in place', async () => {
    await suite.harness.client.start('stateKeys.inPlace', { key: 'in-place' });
    const run = await suite.harness.runToCompletion('in-place', { timeout: '15s' });
    expect(run).toMatchObject({ state: 'completed', result: 'checked' });
  });
});

import { describe, expect, it } from 'vitest';
import { StateKeyWorkflows } from '../fixtures/state-keys.fixture.js';
import { suiteHarness } from '../support/suite.js';

/**
 * A durable state key PostgreSQL cannot store is refused by `ctx.state.set` with a named error,
 * like such a value: stored, it made every later write of the run fail (the run stayed locked).
 */
describe('durable state keys (e2e)', () => {
  const suite = suiteHarness([StateKeyWorkflows]);

  it('should refuse a state key with a NUL character with StateValueError', async () => {
    await suite.harness.client.start('stateKeys.nul', { key: 'nul' });
    const run = await suite.harness.runToCompletion('nul', { timeout: '15s' });
    expect(run).toMatchObject({ state: 'completed', result: 'StateValueError' });
  });
});

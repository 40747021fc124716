import { describe, expect, it } from 'vitest';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { PatchRace, patchRaceBodies } from '../fixtures/patch-race.fixture.js';
import { suiteApp } from '../support/suite.js';

// patched() after a call that raced two steps: the pass that made it took the patch (fresh); a
// later pass replays the call's result in another order and must take the same path.
describe('versioning: patched() after a call racing steps in Promise.all (e2e)', () => {
  const suite = suiteApp('patchrace', [...composeProviders, PatchRace]);

  it(
    'should take the same patch path on every replay and run each body once',
    { timeout: 60_000 },
    async () => {
      const handle = await suite.client.start('patchrace.run', { key: 'pr-1' });
      const out = await handle.result({ timeout: '30s' }).catch((e: unknown) => String(e));
      const bodies = patchRaceBodies.filter((b) => b.startsWith('pr-1:')).sort();
      expect({ out, bodies }).toEqual({ out: 'new', bodies: ['pr-1:b', 'pr-1:b2', 'pr-1:new'] });
    },
  );
});

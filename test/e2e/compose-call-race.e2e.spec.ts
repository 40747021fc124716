import { describe, expect, it } from 'vitest';
import { composeEndsProviders } from '../fixtures/compose-ends.fixture.js';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('composition: parallel calls, one failing, caught, then more calls (e2e)', () => {
  const suite = suiteApp('callrace', [...composeProviders, ...composeEndsProviders]);
  const { schema } = suite;

  it(
    'should raise the failed call, start each child once and go on after the catch',
    { timeout: 90_000 },
    async () => {
      const handle = await suite.client.start('ends.race', { key: 'r-1' });
      await expect(handle.result({ timeout: '60s' })).resolves.toEqual({
        caught: 'call$bad',
        after: 20,
        slow: 50,
      });
      const kids = await sql<{ key: string; state: string }>(
        `SELECT key, state FROM "${schema}".chrono_forge_workflows WHERE key LIKE 'r-1$%' ORDER BY key`,
      );
      expect(kids.map((k) => [k.key.split('$$').pop(), k.state])).toEqual([
        ['call$after', 'completed'],
        ['call$bad', 'failed'],
        ['call$slow', 'completed'],
        ['call$slow2', 'completed'],
      ]);
    },
  );
});

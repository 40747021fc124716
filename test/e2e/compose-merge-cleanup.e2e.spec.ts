import { describe, expect, it } from 'vitest';
import { Cleanup } from '../../lib/index.js';
import { composeEndsProviders } from '../fixtures/compose-ends.fixture.js';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

// A merge of more than 100 children records only its counts; iterating it reads the children.
// Cleanup deletes the children of a completed merge while the parent still runs, so a later pass
// that iterates the merge (a replay of it) must still see every child.
describe('composition: iterating a large merge after a cleanup (e2e)', () => {
  const suite = suiteApp('mergeclean', [...composeProviders, ...composeEndsProviders]);
  const { schema } = suite;

  it(
    'should iterate every child of a recorded merge in a later pass, after a cleanup ran',
    { timeout: 120_000 },
    async () => {
      const { client, app } = suite;
      const n = 120;
      const handle = await client.start('ends.lateIteration', { key: 'big', input: { n } });
      await expect
        .poll(
          async () => (await client.get('big')).steps.some((s) => s.name.startsWith('signal$go')),
          { timeout: 60_000, interval: 200 },
        )
        .toBe(true);
      await sql(
        `UPDATE "${schema}".chrono_forge_workflows SET completed_at = now() - interval '30 days',
         finished_at = now() - interval '30 days' WHERE key LIKE 'big$%'`,
      );
      await app.get(Cleanup).run({ olderThan: '1d' });
      await client.signal('big', 'go', {});
      const sum = ((n * (n - 1)) / 2) * 2;
      await expect(handle.result({ timeout: '30s' })).resolves.toEqual({
        seen: n,
        sum,
        completed: n,
      });
    },
  );
});

import { describe, expect, it } from 'vitest';
import { BranchCall } from '../fixtures/branch-call.fixture.js';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('composition: ctx.call inside a @Branch body (e2e)', () => {
  const suite = suiteApp('branchcall', [...composeProviders, BranchCall]);

  it(
    "should run a call inside a branch body once and merge the branch's spawned child",
    { timeout: 60_000 },
    async () => {
      const handle = await suite.client.start('branchcall.run', { key: 'bc-1' });
      await expect(handle.result({ timeout: '30s' })).resolves.toBe(1);
      const runs = await sql<{ key: string; state: string; input: unknown }>(
        `SELECT key, state, input FROM "${suite.schema}".chrono_forge_workflows WHERE key LIKE 'bc-1$%' ORDER BY id`,
      );
      expect(runs.map((r) => r.state)).toEqual(['completed', 'completed']);
    },
  );
});

import { describe, expect, it } from 'vitest';
import { deployed, versioningProviders } from '../fixtures/versioning.fixture.js';
import { cliRunner } from '../support/cli.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('chronoforge versions and export (e2e)', () => {
  const suite = suiteApp('cliver', versioningProviders);

  const cli = cliRunner(suite.schema, suite.queueName);

  it('should list in-flight runs per workflow version and export a history as JSON', async () => {
    deployed.code = 'v1';
    await suite.client.start('versioning.flow', { key: 'cli-flow' });
    await eventually(
      async () => (await suite.client.get('cli-flow')).steps.some((s) => s.name === 'wait$pause'),
      30_000,
    );
    const versions = await cli('versions');
    expect(versions.code).toBe(0);
    expect(versions.out).toContain('versioning.flow\t(none)\t1 in flight\t');
    const json = JSON.parse((await cli('versions', '--json')).out) as unknown[];
    expect(json).toContainEqual(
      expect.objectContaining({ workflow: 'versioning.flow', version: null, inFlight: 1 }),
    );
    const exported = await cli('export', 'cli-flow');
    expect(exported.code).toBe(0);
    const history = JSON.parse(exported.out);
    expect(history).toMatchObject({
      format: 'chronoforge.run-history',
      formatVersion: 1,
      run: {
        key: 'cli-flow',
        workflow: 'versioning.flow',
        history: ['step$A', 'step$B', 'wait$pause'],
      },
    });
    expect(history.steps.map((s: { name: string }) => s.name)).toEqual([
      'step$A',
      'step$B',
      'wait$pause',
    ]);
    const missing = await cli('export');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('export needs a run key');
  });
});

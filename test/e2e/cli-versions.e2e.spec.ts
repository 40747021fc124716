import { describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../../lib/cli/cli.js';
import { deployed, versioningProviders } from '../fixtures/versioning.fixture.js';
import { DATABASE_URL, eventually, REDIS_URL } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('chronoforge versions and export (e2e)', () => {
  const suite = suiteApp('cliver', versioningProviders);

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const env = {
      DATABASE_URL,
      REDIS_URL,
      CHRONOFORGE_SCHEMA: suite.schema,
      CHRONOFORGE_QUEUE_NAME: suite.queueName,
      CHRONOFORGE_QUEUE: process.env.CF_QUEUE === 'postgres' ? 'postgres' : 'redis',
    };
    const io: CliIo = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), env };
    const code = await runCli(argv, io);
    return { code, out, err };
  }

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

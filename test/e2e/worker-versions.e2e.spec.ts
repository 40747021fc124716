import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidTransitionError, WorkflowClient } from '../../lib/index.js';
import { flowV0, flowV1, flowV2, ranBy } from '../fixtures/worker-versions.fixture.js';
import { bootApp } from '../support/app.js';
import { DATABASE_URL, eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('workflow versions across workers (e2e)', () => {
  // A client of the v2 code; each test boots the workers it needs.
  //
  // NOTE: the worker that lacks a run's version is closed before the one that has it boots. Both
  // in one process, a run left for lack of its version went back to the same worker at each wake
  // (30 times in 30 s under load, Redis queue): BullMQ has no routing by version, and which of two
  // workers takes a delayed job when it falls due is a race, decided here by their order in one
  // process. The hand-over itself is what these tests check; the race is noted in issue 22's note.
  const suite = suiteApp('wver', [flowV2], { options: { worker: false } });
  const apps: INestApplicationContext[] = [];
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const boot = async (provider: typeof flowV2, worker: boolean) => {
    const options = worker ? { worker: { deadAfter: '2s' as const } } : { worker: false as const };
    const { schema, queueName } = suite;
    const app = await bootApp({ schema, queueName, providers: [provider], options });
    apps.push(app);
    return app;
  };
  const close = async (app: INestApplicationContext) => {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  };
  afterAll(async () => {
    for (const app of apps) await app.close();
    await db.end();
  });

  const retryCounts = async (key: string): Promise<Record<string, number>> => {
    const { rows } = await db.query(
      `SELECT retry_counts FROM "${suite.schema}".chrono_forge_workflows WHERE key = $1`,
      [key],
    );
    return rows[0]?.retry_counts ?? {};
  };

  it('should leave a v1 run to a v1 worker, never running it on the v2 worker', async () => {
    const v2Worker = await boot(flowV2, true);
    const v1Client = (await boot(flowV1, false)).get(WorkflowClient);
    const handle = await v1Client.start('versions.flow', { key: 'v1-run' });
    // The v2 worker took the run, saw its version and left it (it records since when).
    await eventually(async () => '$version_wait_since' in (await retryCounts('v1-run')), 30_000);
    expect(ranBy).toEqual([]);
    expect((await suite.client.get('v1-run')).state).toBe('idle');
    await close(v2Worker);
    await boot(flowV1, true);
    await expect(handle.result({ timeout: '30s' })).resolves.toBe('ran v1, started v1');
    expect(ranBy).toEqual(['v1']);
    const versions = await suite.client.versions();
    expect(
      versions.find((v: { version: string | null }) => v.version === 'v1')?.inFlight ?? 0,
    ).toBe(0);
    // Its waits (30 s each) and two app boots do not fit the default 30 s test timeout under load.
  }, 120_000);

  it('should stall a run whose version no live worker has, naming the version', async () => {
    const v2Worker = await boot(flowV2, true);
    const v0Client = (await boot(flowV0, false)).get(WorkflowClient);
    await v0Client.start('versions.flow', { key: 'v0-run' });
    const inFlight = await suite.client.versions();
    expect(inFlight).toContainEqual(
      expect.objectContaining({ workflow: 'versions.flow', version: 'v0', inFlight: 1 }),
    );
    const run = await eventually(
      async () => {
        const r = await suite.client.get('v0-run');
        return r.state === 'stalled' && r;
      },
      30_000,
      'v0-run stalled',
    );
    const error = run.errors.find((e) => e.errorClass === 'WorkflowVersionMissingError');
    expect(error?.message).toContain('started with version "v0"');
    expect(ranBy).not.toContain('v0');
    await close(v2Worker);
  }, 120_000);

  // Its message used to end "then call client.retry(key)", which refuses a run that rolled back.
  it('should stall a rollback whose version no live worker has, naming client.compensate', async () => {
    const v2Worker = await boot(flowV2, true);
    const v0Client = (await boot(flowV0, false)).get(WorkflowClient);
    await v0Client.start('versions.flow', { key: 'v0-rollback' });
    await v0Client.cancel('v0-rollback', { compensate: true });
    const run = await eventually(
      async () => {
        const r = await suite.client.get('v0-rollback');
        return r.state === 'stalled' && r;
      },
      30_000,
      'v0-rollback stalled',
    );
    const error = run.errors.find((e) => e.errorClass === 'WorkflowVersionMissingError');
    expect(error?.message).toContain('started with version "v0"');
    expect(error?.message).toContain('client.compensate(key)');
    expect(error?.message).not.toMatch(/then call client\.retry/);
    // What the message names works; what it used to name is refused.
    await expect(suite.client.retry('v0-rollback')).rejects.toThrow(InvalidTransitionError);
    await close(v2Worker);
    await suite.client.compensate('v0-rollback');
    await boot(flowV0, true);
    const ended = await eventually(
      async () => {
        const r = await suite.client.get('v0-rollback');
        return r.state !== 'compensating' && r.state !== 'stalled' && r;
      },
      30_000,
      'v0-rollback rolled back',
    );
    expect(ended.state).toBe('cancelled');
    expect(ranBy).not.toContain('v0');
  }, 120_000);
});

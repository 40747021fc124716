import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import {
  BeatProbe,
  firstDeployProviders,
  SECOND_EVERY_MS,
  secondDeployProviders,
} from '../fixtures/repeat-redeploy.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';

describe('@Repeat interval changed between deploys (e2e)', () => {
  const schema = uniqueName('cf_repd');
  const queueName = uniqueName('q_repd');
  let app: INestApplicationContext | undefined;

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should run the first tick after the deploy one new interval after the last tick', async () => {
    // First deploy: @Repeat('300ms'); stop the app after a few ticks, the run waiting for the next.
    const first = await bootApp({ schema, queueName, providers: firstDeployProviders });
    app = first;
    await first.get(WorkflowClient).start('repeat.redeploy', { key: 'beat' });
    await eventually(async () => first.get(BeatProbe).ticks.length >= 3);
    app = undefined;
    await first.close();
    const rows = await sql<{ step_name: string }>(
      `SELECT step_name FROM "${schema}".chrono_forge_execution_logs
       WHERE step_name LIKE 'durably\\_repeat$beat$%' AND state = 'completed'`,
    );
    const lastTick = Math.max(...rows.map((r) => Number(r.step_name.split('$').pop())));
    expect(rows.length).toBeGreaterThanOrEqual(3);

    // Second deploy: @Repeat('2s') on the same database and queue; one tick, then `till` holds.
    app = await bootApp({ schema, queueName, providers: secondDeployProviders });
    const probe = app.get(BeatProbe);
    probe.stopAfter = 1;
    const client = app.get(WorkflowClient);
    await expect((await client.handle('beat')).result({ timeout: '30s' })).resolves.toBe(
      'stopped by beat',
    );
    expect(probe.ticks).toEqual([new Date(lastTick + SECOND_EVERY_MS)]);
  });
});

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
    await app.close();
    app = undefined;
  });

  it('should finish a tick the old interval left mid-retry, then go on one new interval after it', async () => {
    // First deploy: two ticks run, the third fails and waits for its retry when the app stops.
    const first = await bootApp({ schema, queueName, providers: firstDeployProviders });
    app = first;
    first.get(BeatProbe).failFrom = 2;
    await first.get(WorkflowClient).start('repeat.redeploy', { key: 'mid-retry' });
    const [pending] = await eventually(() =>
      sql<{ step_name: string }>(
        `SELECT l.step_name FROM "${schema}".chrono_forge_execution_logs l
         JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id
         WHERE w.key = 'mid-retry' AND l.step_name LIKE 'durably\\_repeat$beat$%' AND l.state = 'pending'`,
      ).then((rows) => (rows.length > 0 ? rows : undefined)),
    );
    app = undefined;
    await first.close();
    const unfinished = Number(pending.step_name.split('$').pop());

    // Second deploy: @Repeat('2s'); the unfinished tick runs (at its own time), then the new grid.
    const second = await bootApp({ schema, queueName, providers: secondDeployProviders });
    app = second;
    const probe = second.get(BeatProbe);
    probe.stopAfter = 2;
    const handle = await second.get(WorkflowClient).handle('mid-retry');
    await expect(handle.result({ timeout: '30s' })).resolves.toBe('stopped by mid-retry');
    expect(probe.ticks).toEqual([new Date(unfinished), new Date(unfinished + SECOND_EVERY_MS)]);
    const left = await sql(
      `SELECT 1 FROM "${schema}".chrono_forge_execution_logs l
       JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id
       WHERE w.key = 'mid-retry' AND l.state = 'pending'`,
    );
    expect(left).toEqual([]);
  });
});

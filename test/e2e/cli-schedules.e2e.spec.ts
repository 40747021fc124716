import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScheduleInfo, Workflow, WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cliSuite } from '../support/cli.js';
import { cleanup } from '../support/env.js';

@Injectable()
class Reports {
  @Workflow('cli.report')
  async report(): Promise<string> {
    return 'ok';
  }
}

describe('chronoforge schedules CLI (e2e)', () => {
  const { schema, queueName, cli } = cliSuite('clis');
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    // A client-only app: nothing fires the ticks, the CLI only reads and changes the rows.
    app = await bootApp({ schema, queueName, providers: [Reports], options: { worker: false } });
    client = app.get(WorkflowClient);
    await client.schedules.create('reports.yearly', {
      cron: '0 6 1 1 *',
      timeZone: 'Europe/Paris',
      workflow: 'cli.report',
    });
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should list, show, pause, resume and trigger a schedule', async () => {
    const list = await cli('schedules');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(
      /^reports\.yearly\tactive\tcli\.report\t0 6 1 1 \*\tEurope\/Paris\t\d{4}-01-01T05:00:00\.000Z\t-\n$/,
    );
    expect((await cli('schedules', 'pause', 'reports.yearly')).out).toBe(
      'pause: reports.yearly ok\n',
    );
    const shown = JSON.parse(
      (await cli('schedules', 'show', 'reports.yearly')).out,
    ) as ScheduleInfo;
    expect(shown).toMatchObject({ name: 'reports.yearly', state: 'paused', nextTicks: [] });
    expect((await cli('schedules', 'resume', 'reports.yearly')).code).toBe(0);
    const triggered = await cli('schedules', 'trigger', 'reports.yearly');
    expect(triggered.out).toMatch(/^sched:reports\.yearly:\d{4}-\d\d-\d\dT[\d:.]+Z\n$/);
    const listed = JSON.parse((await cli('schedules', 'list', '--json')).out) as ScheduleInfo[];
    expect(listed).toMatchObject([{ state: 'active', pending: { triggers: 1, backfills: 0 } }]);
    expect(JSON.parse((await cli('schedules', '--workflow', 'other', '--json')).out)).toEqual([]);
  });

  it('should fail with 1 on an unknown schedule and 2 on a bad command line', async () => {
    const missing = await cli('schedules', 'show', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/No schedule is named "nope"/);
    expect((await cli('schedules', 'pause')).code).toBe(2);
    expect((await cli('schedules', 'explode', 'x')).code).toBe(2);
    expect((await cli('schedules', 'show', 'a', 'b')).code).toBe(2);
  });
});

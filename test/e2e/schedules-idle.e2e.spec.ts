import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { PgCounter, type StatementEvent } from '../../bench/pg-counter.js';
import { ChronoForgeDatabase, type ScheduledRunInput, Workflow } from '../../lib/index.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

@Injectable()
class IdleWorkflows {
  @Workflow('idle.quick')
  async quick(input: ScheduledRunInput): Promise<string> {
    return input.scheduledAt.toISOString();
  }
}

/**
 * The schedule loop of a worker on the default options (`pollEvery: '1m'`): idle, it sends no
 * statement; a schedule write wakes it through NOTIFY (waits below are far shorter than 1 min).
 */
describe('schedule loop when idle (e2e)', () => {
  const suite = suiteApp('schedidle', [IdleWorkflows]);
  const runs = async (schedule: string) =>
    sql<{ key: string }>(
      `SELECT key FROM "${suite.schema}".chrono_forge_workflows WHERE key LIKE $1 ORDER BY key`,
      [`sched:${schedule}:%`],
    );

  it('should send no schedule statement while no schedule exists', async () => {
    const events: StatementEvent[] = [];
    PgCounter.attach(suite.app.get(ChronoForgeDatabase).pool).on((e) => events.push(e));
    // With no schedule the loop sleeps for pollEvery (1 min) after each look; its first look may
    // still fall inside this window on a slow machine. A 1 s poll would look 4 times or more.
    await new Promise((r) => setTimeout(r, 4_000));
    const claims = events.filter(
      (e) => /\.chrono_forge_schedules\b/.test(e.text) && /SKIP LOCKED/.test(e.text),
    );
    expect(claims.length).toBeLessThanOrEqual(1);
  });

  it('should fire a new schedule and a trigger at once, woken by the write', async () => {
    await suite.client.schedules.create('idle-every-second', {
      cron: '* * * * * *',
      workflow: 'idle.quick',
      overlap: 'allow',
    });
    await eventually(
      async () => (await runs('idle-every-second')).length > 0,
      20_000,
      'the first tick',
    );
    await suite.client.schedules.pause('idle-every-second');
    await suite.client.schedules.create('idle-manual', {
      cron: '0 0 1 1 *',
      workflow: 'idle.quick',
      paused: true,
    });
    const key = await suite.client.schedules.trigger('idle-manual');
    const handle = await eventually(
      () => suite.client.handle(key).catch(() => null),
      20_000,
      'the triggered run',
    );
    await expect(handle.result({ timeout: '20s' })).resolves.toMatch(/^\d{4}-/);
  });
});

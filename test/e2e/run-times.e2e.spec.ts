import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  InvalidOptionsError,
  RetryPolicy,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';
import { testModuleOptions } from '../support/app.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

@Injectable()
class RunTimeWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('times.echo')
  async echo(input: { n: number }): Promise<number> {
    return this.ctx.step('double', () => input.n * 2);
  }

  @Workflow('times.fails', { retry: new RetryPolicy({ maxAttempts: 1 }) })
  async fails(): Promise<never> {
    await this.ctx.step('first', () => 1);
    throw new Error('card declined');
  }

  @Workflow('times.waits')
  async waits(): Promise<unknown> {
    return this.ctx.waitForSignal('go', { timeout: '1h' });
  }

  /** A month-long lock: longer than an `integer` of milliseconds holds (~24.8 days). */
  @Workflow('times.month', { maxDuration: '30d' })
  async month(): Promise<string> {
    await this.ctx.sleep('20ms');
    return this.ctx.step('done', () => 'month');
  }

  @Workflow('times.ages', { maxDuration: '900y' })
  async ages(): Promise<unknown> {
    return this.ctx.waitForSignal('go', { timeout: '1h' });
  }
}

describe('run times and long maxDuration (e2e)', () => {
  const suite = suiteApp('times', [RunTimeWorkflows]);
  const { schema, queueName } = suite;
  const wf = `"${schema}".chrono_forge_workflows`;
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
  });

  const times = async (key: string) => {
    const run = await client.get(key);
    return { state: run.state, completedAt: run.completedAt, finishedAt: run.finishedAt };
  };

  it('should set completedAt only for a completed run, and finishedAt for every terminal one', async () => {
    await (
      await client.start('times.echo', { key: 'done', input: { n: 2 } })
    ).result({
      timeout: '15s',
    });
    const done = await times('done');
    expect(done.state).toBe('completed');
    expect(done.completedAt).toBeInstanceOf(Date);
    expect(done.finishedAt).toEqual(done.completedAt);

    const failing = await client.start('times.fails', { key: 'failed' });
    await expect(failing.result({ timeout: '15s' })).rejects.toThrow(/card declined/);
    expect(await times('failed')).toEqual({
      state: 'failed',
      completedAt: null,
      finishedAt: expect.any(Date) as Date,
    });

    await client.start('times.waits', { key: 'cancelled' });
    await client.cancel('cancelled');
    expect(await times('cancelled')).toEqual({
      state: 'cancelled',
      completedAt: null,
      finishedAt: expect.any(Date) as Date,
    });
    const listed = await client.list({ state: ['failed', 'cancelled'] });
    expect(listed.map((r) => [r.key, r.completedAt, r.finishedAt instanceof Date]).sort()).toEqual([
      ['cancelled', null, true],
      ['failed', null, true],
    ]);
  });

  it('should give a retried run that fails again a new finishedAt', async () => {
    await client.start('times.fails', { key: 'retried' });
    await eventually(async () => (await times('retried')).state === 'failed');
    const first = (await times('retried')).finishedAt as Date;
    await client.retry('retried');
    await eventually(async () => {
      const t = await times('retried');
      return t.state === 'failed' && (t.finishedAt as Date) > first;
    });
  });

  it("should measure a failed run's retention from finishedAt, whatever touches updated_at later", async () => {
    await client.start('times.fails', { key: 'old-failure' });
    await eventually(async () => (await times('old-failure')).state === 'failed');
    await sql(
      `UPDATE ${wf} SET finished_at = now() - interval '40 days', updated_at = now() WHERE key = 'old-failure'`,
    );
    const deleted = await app.get(Cleanup).run({ olderThan: '90d', failedOlderThan: '30d' });
    expect(deleted.workflows).toBe(1);
    expect(await sql(`SELECT 1 FROM ${wf} WHERE key = 'old-failure'`)).toEqual([]);
  });

  it('should start and complete a run whose maxDuration is longer than 24.8 days', async () => {
    const handle = await client.start('times.month', { key: 'month' });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('month');
    const [row] = await sql<{ max_duration_ms: string }>(
      `SELECT max_duration_ms FROM ${wf} WHERE key = 'month'`,
    );
    expect(row.max_duration_ms).toBe(String(30 * 86_400_000));
  });

  it('should hold and wake a run with a 900-year maxDuration while its lock is taken', async () => {
    const handle = await client.start('times.ages', { key: 'ages' });
    await eventually(async () => (await times('ages')).state === 'idle', 15_000, 'the wait');
    // A held lock makes the stale-lock rule compute now() - maxDuration.
    await sql(`UPDATE ${wf} SET state = 'running', locked_by = 'elsewhere', locked_at = now()
               WHERE key = 'ages'`);
    await client.signal('ages', 'go', 'ready');
    await sql(`UPDATE ${wf} SET state = 'idle', locked_by = NULL, locked_at = NULL, next_run_at = now()
               WHERE key = 'ages'`);
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('ready');
  });

  it('should refuse a maxDuration longer than 1000 years when the module boots', () => {
    const options = testModuleOptions({ schema, queueName });
    expect(() => resolveOptions({ ...options, maxDuration: '1001y' })).toThrow(InvalidOptionsError);
    expect(() => resolveOptions({ ...options, maxDuration: '1000y' })).not.toThrow();
  });
});

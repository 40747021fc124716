import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeMetrics,
  DurableStep,
  Workflow,
  WorkflowClient,
  WorkflowContext,
  WorkflowQueue,
} from '../../lib/index.js';
import { CLEANUP_JOB, CLEANUP_SCHEDULER_ID } from '../../lib/options/chrono-forge.constants.js';
import { bootApp, type TestAppOptions } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';
import { cleanupSeed } from './cleanup.seed.js';

/** Releases the `hold` step of the `running` run when the test says so. */
@Injectable()
class Gate {
  release!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.release = resolve));
}

@Injectable()
class Steps {
  constructor(private readonly gate: Gate) {}

  @DurableStep()
  async hold(): Promise<string> {
    await this.gate.opened;
    return 'released';
  }
}

@Injectable()
class ScheduledCleanupWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly steps: Steps,
  ) {}

  @Workflow('scheduled.echo')
  async echo(input: { n: number }): Promise<number> {
    return this.ctx.step('double', async () => input.n * 2);
  }

  @Workflow('scheduled.sleeper')
  async sleeper(): Promise<string> {
    await this.ctx.sleep('30d', 'nap');
    return 'woke';
  }

  @Workflow('scheduled.holder')
  async holder(): Promise<string> {
    return this.steps.hold();
  }
}

const EVERY_MS = 250;

/** The queue-side cleanup (module option `cleanup`), on the suite's queue backend. */
describe('Cleanup: scheduled on the queue (e2e)', () => {
  const schema = uniqueName('cf_sched');
  const queueName = uniqueName('q_sched');
  const seed = cleanupSeed(schema);
  const apps: INestApplicationContext[] = [];
  const gate = new Gate();

  const boot = async (options: TestAppOptions['options']) => {
    const app = await bootApp({
      schema,
      queueName,
      providers: [{ provide: Gate, useValue: gate }, Steps, ScheduledCleanupWorkflows],
      options,
    });
    apps.push(app);
    return app;
  };
  const close = async (app: INestApplicationContext) => {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  };
  // Failed runs keep 30 days, the rest 1 day; small batches.
  const scheduled = {
    cleanup: { every: EVERY_MS, olderThan: '1d', failedOlderThan: '30d', batchSize: 2 },
  } as const;
  const cleanupRuns = async (app: INestApplicationContext): Promise<number> => {
    const metric = await app.get(ChronoForgeMetrics).cleanupRuns.get();
    return metric.values.find((v) => v.labels.outcome === 'ok')?.value ?? 0;
  };
  const schedulers = (app: INestApplicationContext) =>
    app.get(WorkflowQueue).dedicatedQueue('maintenance').getJobSchedulers();
  const runKeys = async (): Promise<string[]> =>
    (await sql<{ key: string }>(`SELECT key FROM ${seed.wf} ORDER BY key`)).map((r) => r.key);

  let worker: INestApplicationContext;

  beforeAll(async () => {
    worker = await boot(scheduled);
  });

  afterEach(() => gate.release());

  afterAll(async () => {
    gate.release();
    for (const app of [...apps].reverse()) await app.close();
    await cleanup(schema, queueName);
  });

  it('should delete old terminal runs without a call to Cleanup, and never touch live ones', async () => {
    const client = worker.get(WorkflowClient);
    const echo = await client.start('scheduled.echo', { key: 'echo-old', input: { n: 1 } });
    await echo.result({ timeout: '10s' });
    await (
      await client.start('scheduled.echo', { key: 'echo-new', input: { n: 2 } })
    ).result({ timeout: '10s' });
    await client.start('scheduled.sleeper', { key: 'sleeper' });
    await client.start('scheduled.holder', { key: 'holder' });
    await eventually(
      async () =>
        (await sql(`SELECT 1 FROM ${seed.wf} WHERE key = 'holder' AND state = 'running'`)).length,
      10_000,
      'the holder run to be running',
    );
    await eventually(
      async () =>
        (await sql(`SELECT 1 FROM ${seed.wf} WHERE key = 'sleeper' AND next_run_at > now()`))
          .length,
      10_000,
      'the sleeper run to sleep',
    );
    // Seeded young, then aged in one statement: the scheduler is already running.
    const failedOld = await seed.makeRun('failed', 0, 41);
    const failedKept = await seed.makeRun('failed', 0, 41);
    const stalledOld = await seed.makeRun('stalled', 200, 200);
    await seed.addLogs(failedOld);
    await sql(
      `UPDATE ${seed.wf} SET
         completed_at = CASE WHEN key = 'echo-old' THEN now() - interval '2 days' ELSE completed_at END,
         finished_at = CASE WHEN id = $1 THEN now() - interval '40 days'
                           WHEN id = $2 THEN now() - interval '20 days' ELSE finished_at END
       WHERE key = 'echo-old' OR id IN ($1, $2)`,
      [failedOld, failedKept],
    );
    // Live runs older than any retention: only their state protects them.
    await sql(
      `UPDATE ${seed.wf} SET created_at = now() - interval '200 days', updated_at = now() - interval '200 days'
       WHERE key IN ('sleeper', 'holder')`,
    );

    await eventually(
      async () => !(await runKeys()).includes('echo-old') && !(await seed.runExists(failedOld)),
      15_000,
      'the scheduled cleanup to delete the old runs',
    );
    // A few more scheduled cleanups run over the live runs.
    const runsSoFar = await cleanupRuns(worker);
    await eventually(
      async () => (await cleanupRuns(worker)) >= runsSoFar + 2,
      15_000,
      'two more scheduled cleanups',
    );
    const seeded = await sql<{ key: string }>(
      `SELECT key FROM ${seed.wf} WHERE id IN ($1, $2) ORDER BY id`,
      [failedKept, stalledOld],
    );
    expect((await runKeys()).sort()).toEqual(
      ['echo-new', 'holder', ...seeded.map((r) => r.key), 'sleeper'].sort(),
    );
    const states = await sql<{ key: string; state: string }>(
      `SELECT key, state FROM ${seed.wf} WHERE key IN ('holder', 'sleeper') ORDER BY key`,
    );
    expect(states).toEqual([
      { key: 'holder', state: 'running' },
      { key: 'sleeper', state: 'idle' },
    ]);
    const text = await worker.get(ChronoForgeMetrics).registry.metrics();
    expect(text).toMatch(/chronoforge_cleanup_deleted_total\{kind="workflows"\} [1-9]/);
    expect(text).toMatch(/chronoforge_cleanup_deleted_total\{kind="error_logs"\} [1-9]/);

    gate.release();
    await expect((await client.handle('holder')).result({ timeout: '10s' })).resolves.toBe(
      'released',
    );
  });

  it('should keep one scheduler for several worker processes, left alone by client-only ones', async () => {
    const second = await boot(scheduled);
    const clientOnly = await boot({ worker: false });
    // Registered in the background at boot: wait until both workers' calls are through.
    await new Promise((r) => setTimeout(r, 500));
    const [only, ...others] = await schedulers(worker);
    expect(others).toEqual([]);
    expect(only).toMatchObject({ key: CLEANUP_SCHEDULER_ID, name: CLEANUP_JOB, every: EVERY_MS });

    // Two workers share the scheduler's jobs: together they clean about once per interval, not twice.
    const before = (await cleanupRuns(worker)) + (await cleanupRuns(second));
    const windowMs = 2_000;
    await new Promise((r) => setTimeout(r, windowMs));
    const during = (await cleanupRuns(worker)) + (await cleanupRuns(second)) - before;
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(windowMs / EVERY_MS + 2);
    expect(await clientOnly.get(ChronoForgeMetrics).cleanupRuns.get()).toMatchObject({
      values: [],
    });
    await close(clientOnly);
    await close(second);
  });

  it('should update the interval on reboot and remove the scheduler when the option is gone', async () => {
    await close(worker);
    const slower = await boot({ cleanup: { every: '1h', olderThan: '90d' } });
    const [updated, ...others] = await eventually(
      async () => {
        const found = await schedulers(slower);
        return found[0]?.every === 3_600_000 ? found : undefined;
      },
      10_000,
      'the scheduler to be updated',
    );
    expect(others).toEqual([]);
    expect(updated).toMatchObject({ key: CLEANUP_SCHEDULER_ID, every: 3_600_000 });
    await close(slower);

    worker = await boot({});
    await eventually(
      async () => (await schedulers(worker)).length === 0,
      10_000,
      'the scheduler to be removed',
    );
    const delayed = await worker.get(WorkflowQueue).dedicatedQueue('maintenance').getDelayed();
    expect(delayed.filter((j) => j.name === CLEANUP_JOB)).toEqual([]);
  });
});

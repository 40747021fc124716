import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { WorkflowQueue } from '../../lib/queue/workflow.queue.js';
import {
  BadInputWorkflows,
  CollectingLogger,
  servingCheck,
  storedRun,
} from '../fixtures/bad-input.fixture.js';
import { eventually, QUEUE_BACKEND, REDIS_URL, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('bad jobs and renamed workflows end to end (e2e)', () => {
  const logger = new CollectingLogger();
  const suite = suiteApp('badjobs', [BadInputWorkflows], {
    afterBoot: (app) => app.useLogger(logger),
  });
  const wf = `"${suite.schema}".chrono_forge_workflows`;
  const expectServing = servingCheck(() => suite.client);
  const stored = (key: string) => storedRun(suite.schema, key);

  it('should park a run whose workflow was renamed, log it, and run it once the name is back', async () => {
    await suite.client.start('bad.wait', { key: 'renamed' });
    await eventually(async () => (await suite.client.get('renamed')).steps.length > 0);
    // A deploy renamed the workflow: the stored name is no longer registered.
    await sql(`UPDATE ${wf} SET job_name = 'bad.waitOld' WHERE key = 'renamed'`);
    const before = await stored('renamed');
    await suite.client.signal('renamed', 'go', { late: true });
    const line = await eventually(async () =>
      logger.lines.find(
        (l) => l.includes('"renamed"') && l.includes('unknown workflow "bad.waitOld"'),
      ),
    );
    expect(line).toMatch(
      /^error Run \d+ \("renamed"\) belongs to unknown workflow "bad\.waitOld"; known: .*bad\.wait/,
    );
    const [parked] = await stored('renamed');
    expect(parked).toMatchObject({
      state: 'idle',
      locked_by: null,
      input: before[0].input,
      logs: before[0].logs,
    });
    expect(new Date(parked.next_run_at as string).getTime()).toBeGreaterThan(Date.now() + 30_000);
    await expectServing();
    // The name is registered again (rolled back): the run resumes and takes its signal.
    await sql(`UPDATE ${wf} SET job_name = 'bad.wait' WHERE key = 'renamed'`);
    await suite.client.resume('renamed');
    await expect(
      (await suite.client.handle('renamed')).result({ timeout: '15s' }),
    ).resolves.toEqual({
      late: true,
    });
  });

  it('should drop garbage jobs with a log line and keep serving', async () => {
    await suite.client.start('bad.wait', { key: 'victim' });
    // Parked on its signal and released: nothing changes the stored run until the signal comes.
    await eventually(async () => {
      const run = await suite.client.get('victim');
      return run.steps.length > 0 && run.state === 'idle';
    });
    const before = await stored('victim');
    const [{ id: victimId }] = before as { id: string }[];
    const queue = suite.app.get(WorkflowQueue).bullQueue;
    const garbage: [string, unknown][] = [
      ['run', { workflowId: 'DROP TABLE' }],
      ['run', { workflowId: 12 }],
      ['run', {}],
      ['run', null],
      ['run', 'just a string'],
      ['run', { workflowId: '99999999999999999999' }],
      ['run', { workflowId: '9999999999999999999' }],
      ['run', { workflowId: '424242' }],
      ['mystery', { workflowId: victimId }],
      ['merge', { parentId: 'x' }],
      ['merge', 7],
    ];
    for (const [i, [name, data]] of garbage.entries()) {
      await queue.add(name, data as object, { jobId: `garbage-${i}`, attempts: 1 });
    }
    await eventually(
      async () => (await queue.getJobCounts('wait', 'active', 'delayed')).wait === 0,
    );
    await expectServing();
    const drops = logger.lines.filter((l) => /^error Dropping malformed/.test(l));
    // Every job that cannot name a run is dropped with a log line (garbage-6: an id beyond
    // PostgreSQL's bigint used to fail the job with a database error instead). A well-formed id of
    // a run that does not exist (garbage-7, e.g. deleted by cleanup) is ignored quietly.
    for (const id of [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]) {
      expect(drops.filter((l) => new RegExp(`job garbage-${id}[ :]`).test(l))).toHaveLength(1);
    }
    expect(drops.some((l) => l.includes('garbage-7'))).toBe(false);
    expect(await stored('victim')).toEqual(before);
  });

  it.runIf(QUEUE_BACKEND === 'redis')(
    'should drop a job whose data is not JSON, written straight into Redis',
    async () => {
      const victim = await stored('victim');
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      try {
        const prefix = `bull:${suite.queueName}`;
        await redis.hset(`${prefix}:rawbad`, {
          name: 'run',
          data: '{"workflowId": "1", oops',
          opts: '{"attempts":1}',
          timestamp: String(Date.now()),
          delay: '0',
          priority: '0',
        });
        await redis.lpush(`${prefix}:wait`, 'rawbad');
        await expectServing(); // its job wakes the worker, which also takes the raw job
        await eventually(async () => (await redis.llen(`${prefix}:wait`)) === 0);
        // BullMQ cannot parse it, reports it (BullMQ's stalled-job check fails it later) and the
        // worker goes on serving runs.
        const line = await eventually(async () =>
          logger.lines.find((l) => l.startsWith('error Worker error:') && /JSON/.test(l)),
        );
        expect(line).toMatch(/property name in JSON at position 20/);
        await expectServing();
        expect(await stored('victim')).toEqual(victim);
      } finally {
        await redis.quit();
      }
    },
  );
});

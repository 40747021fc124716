import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { IsInt } from 'class-validator';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeError,
  InputValidationError,
  InvalidOptionsError,
  InvalidTransitionError,
  RetryPolicy,
  SerializationError,
  Workflow,
  WorkflowClient,
  WorkflowContext,
  WorkflowNotFoundError,
} from '../../lib/index.js';
import { WorkflowQueue } from '../../lib/queue/workflow.queue.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, QUEUE_BACKEND, REDIS_URL, sql, uniqueName } from '../support/env.js';

class CountInput {
  @IsInt() n: number;
}

const circular = () => {
  const o: Record<string, unknown> = { id: 1 };
  o.self = o;
  return o;
};

@Injectable()
class BadInputWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('bad.double', { input: CountInput })
  async double(input: CountInput): Promise<number> {
    return this.ctx.step('double', () => input.n * 2);
  }

  @Workflow('bad.wait')
  async wait(): Promise<unknown> {
    return this.ctx.waitForSignal('go', { timeout: '1h' });
  }

  @Workflow('bad.stepReturns')
  async stepReturns(input: { kind: 'function' | 'circular' | 'nul' }): Promise<unknown> {
    return this.ctx.step('produce', () => {
      if (input.kind === 'function') return { callback: () => 1 };
      if (input.kind === 'circular') return circular();
      return { text: 'zero\u0000byte' };
    });
  }

  /** Body runs of `bad.stepThrowsNul`'s step, per run key. */
  static nulThrows = new Map<string, number>();

  @Workflow('bad.stepThrowsNul')
  async stepThrowsNul(): Promise<unknown> {
    const key = this.ctx.key;
    return this.ctx.step(
      'call',
      () => {
        BadInputWorkflows.nulThrows.set(key, (BadInputWorkflows.nulThrows.get(key) ?? 0) + 1);
        throw new Error('upstream said: zero\u0000byte \ud800');
      },
      { retry: new RetryPolicy({ maxAttempts: 1 }) },
    );
  }

  @Workflow('bad.workflowReturns')
  async workflowReturns(): Promise<unknown> {
    return { callback: () => 1 };
  }
}

/** Keeps what the engine logs, to assert on dropped jobs. */
class CollectingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown) {
    this.lines.push(`log ${String(message)}`);
  }
  error(message: unknown) {
    this.lines.push(`error ${String(message)}`);
  }
  warn(message: unknown) {
    this.lines.push(`warn ${String(message)}`);
  }
}

describe('bad input end to end (e2e)', () => {
  const schema = uniqueName('cf_bad');
  const queueName = uniqueName('q_bad');
  const wf = `"${schema}".chrono_forge_workflows`;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  const logger = new CollectingLogger();
  let served = 0;

  /** The worker still serves runs: a fresh run completes. */
  async function expectServing(): Promise<void> {
    const key = `serving-${++served}`;
    const handle = await client.start('bad.double', { key, input: { n: served } });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe(served * 2);
  }

  /** Every stored column of the run, its logs and its signals. */
  const stored = (key: string) =>
    sql(
      `SELECT w.*, (SELECT json_agg(l ORDER BY l.id) FROM "${schema}".chrono_forge_execution_logs l
                    WHERE l.workflow_id = w.id) AS logs,
              (SELECT count(*) FROM "${schema}".chrono_forge_signals s WHERE s.workflow_id = w.id) AS signals
       FROM ${wf} w WHERE key = $1`,
      [key],
    );

  async function rejects<E extends ChronoForgeError>(
    call: Promise<unknown>,
    type: abstract new (...args: never[]) => E,
    message: RegExp,
  ): Promise<E> {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    return error as E;
  }

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: [BadInputWorkflows] });
    app.useLogger(logger);
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should refuse an oversized input and an oversized signal payload, storing nothing', async () => {
    const big = { blob: 'x'.repeat(1024 * 1024) };
    await rejects(
      client.start('bad.wait', { key: 'big-input', input: big }),
      InvalidOptionsError,
      /^Input of "bad.wait" is 1048587 bytes; the limit is 1048576\.$/,
    );
    expect(await sql(`SELECT 1 FROM ${wf} WHERE key = 'big-input'`)).toEqual([]);

    await client.start('bad.wait', { key: 'waits' });
    await eventually(async () => (await client.get('waits')).steps.length > 0);
    const before = await stored('waits');
    await rejects(
      client.signal('waits', 'go', big),
      InvalidOptionsError,
      /^Signal payload is \d+ bytes; the limit is 1048576\.$/,
    );
    await rejects(
      client.signal('waits', 'go', { at: 'a\u0000b' }),
      SerializationError,
      /signal payload\.at: it contains a NUL character/,
    );
    expect(await stored('waits')).toEqual(before);
    await client.signal('waits', 'go', { ok: true });
    await expect((await client.handle('waits')).result({ timeout: '15s' })).resolves.toEqual({
      ok: true,
    });
    await expectServing();
  });

  it('should refuse malformed inputs: not an object, failing the DTO, not JSON', async () => {
    await rejects(
      client.start('bad.double', { key: 'm1', input: 'seven' }),
      InputValidationError,
      /input must be an object matching CountInput/,
    );
    await rejects(
      client.start('bad.double', { key: 'm2', input: { n: 'seven' } }),
      InputValidationError,
      /n must be an integer number/,
    );
    await rejects(
      client.start('bad.double', { key: 'm3', input: { n: 1, at: 2n } }),
      SerializationError,
      /^input is not JSON/,
    );
    await rejects(
      client.start('bad.double', { key: 'm4', input: circular() }),
      SerializationError,
      /circular structure \(at input\.self\)/,
    );
    expect(await sql(`SELECT key FROM ${wf} WHERE key LIKE 'm_'`)).toEqual([]);
  });

  it('should name the known workflows when the workflow is unknown', async () => {
    await rejects(
      client.start('bad.nope', { key: 'u1' }),
      WorkflowNotFoundError,
      /^No workflow "bad.nope" is registered in this application\. Known: .*bad\.double/,
    );
    expect(await sql(`SELECT 1 FROM ${wf} WHERE key = 'u1'`)).toEqual([]);
  });

  it.each([
    ['function', /Cannot store a function at result\.callback/],
    ['circular', /Cannot store a circular structure \(at result\.self\)/],
    ['nul', /Cannot store the string at result\.text: it contains a NUL character/],
  ] as const)(
    'should stall a run whose step returns a %s value, without retrying it',
    async (kind, message) => {
      const key = `returns-${kind}`;
      const handle = await client.start('bad.stepReturns', { key, input: { kind } });
      await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/stalled/);
      const run = await client.get(key);
      expect(run.steps).toMatchObject([{ name: 'step$produce', state: 'failed', attempts: 1 }]);
      expect(run.errors).toMatchObject([
        {
          stepName: 'step$produce',
          errorClass: 'SerializationError',
          message: expect.stringMatching(message),
        },
      ]);
      expect(run.input).toEqual({ kind });
      await expectServing();
    },
  );

  it('should record a step error whose message PostgreSQL cannot store, and honour the step retry policy', async () => {
    const handle = await client.start('bad.stepThrowsNul', { key: 'nul-error' });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/stalled/);
    const run = await client.get('nul-error');
    expect(run.state).toBe('stalled');
    expect(run.errors).toMatchObject([
      { errorClass: 'Error', message: 'upstream said: zero\\u0000byte \ufffd' },
    ]);
    // maxAttempts: 1 — the body ran once; the error record did not turn into a workflow failure.
    expect(BadInputWorkflows.nulThrows.get('nul-error')).toBe(1);
    await expectServing();
  });

  it('should fail a run whose workflow returns a value that does not serialize', async () => {
    const handle = await client.start('bad.workflowReturns', { key: 'wf-returns' });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/failed/);
    const run = await client.get('wf-returns');
    expect(run.errors).toMatchObject([
      {
        errorClass: 'SerializationError',
        message: expect.stringMatching(/function at result\.callback/),
      },
    ]);
    await expectServing();
  });

  it('should refuse retry, resume, cancel and signal in the wrong state, leaving the run as it was', async () => {
    await (await client.start('bad.double', { key: 'done', input: { n: 1 } })).result();
    await client.start('bad.wait', { key: 'idle' });
    await eventually(async () => (await client.get('idle')).steps.length > 0);
    await client.start('bad.wait', { key: 'gone' });
    await client.cancel('gone');
    const snapshots = {
      done: await stored('done'),
      idle: await stored('idle'),
      gone: await stored('gone'),
    };
    const transition = (key: string, state: string, action: string) =>
      new RegExp(
        `^Cannot ${action} run "${key}" in state "${state}"\\. Only runs in state .* allow ${action}\\.$`,
      );
    const states = { done: 'completed', idle: 'idle', gone: 'cancelled' } as const;
    const refused: Array<['retry' | 'resume' | 'cancel' | 'signal', keyof typeof states]> = [
      ['retry', 'done'],
      ['retry', 'idle'],
      ['retry', 'gone'],
      ['resume', 'done'],
      ['resume', 'gone'],
      ['cancel', 'done'],
      ['cancel', 'gone'],
      ['signal', 'done'],
      ['signal', 'gone'],
    ];
    for (const [action, key] of refused) {
      const call = action === 'signal' ? client.signal(key, 'go', 1) : client[action](key);
      await rejects(call, InvalidTransitionError, transition(key, states[key], action));
    }
    await rejects(client.retry('nope'), WorkflowNotFoundError, /^No run with key "nope"\.$/);
    expect({
      done: await stored('done'),
      idle: await stored('idle'),
      gone: await stored('gone'),
    }).toEqual(snapshots);
    await expectServing();
  });

  it('should park a run whose workflow was renamed, log it, and run it once the name is back', async () => {
    await client.start('bad.wait', { key: 'renamed' });
    await eventually(async () => (await client.get('renamed')).steps.length > 0);
    // A deploy renamed the workflow: the stored name is no longer registered.
    await sql(`UPDATE ${wf} SET job_name = 'bad.waitOld' WHERE key = 'renamed'`);
    const before = await stored('renamed');
    await client.signal('renamed', 'go', { late: true });
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
    await client.resume('renamed');
    await expect((await client.handle('renamed')).result({ timeout: '15s' })).resolves.toEqual({
      late: true,
    });
  });

  it('should drop garbage jobs with a log line and keep serving', async () => {
    await client.start('bad.wait', { key: 'victim' });
    await eventually(async () => (await client.get('victim')).steps.length > 0);
    const before = await stored('victim');
    const [{ id: victimId }] = before as { id: string }[];
    const queue = app.get(WorkflowQueue).bullQueue;
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
        const prefix = `bull:${queueName}`;
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

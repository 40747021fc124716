import { describe, expect, it } from 'vitest';
import {
  InputValidationError,
  InvalidOptionsError,
  InvalidTransitionError,
  SerializationError,
  WorkflowNotFoundError,
} from '../../lib/index.js';
import {
  BadInputWorkflows,
  circular,
  CollectingLogger,
  rejects,
  servingCheck,
  storedRun,
} from '../fixtures/bad-input.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('bad input end to end (e2e)', () => {
  const logger = new CollectingLogger();
  const suite = suiteApp('bad', [BadInputWorkflows], { afterBoot: (app) => app.useLogger(logger) });
  const wf = `"${suite.schema}".chrono_forge_workflows`;
  const expectServing = servingCheck(() => suite.client);
  const stored = (key: string) => storedRun(suite.schema, key);

  it('should refuse an oversized input and an oversized signal payload, storing nothing', async () => {
    const big = { blob: 'x'.repeat(1024 * 1024) };
    await rejects(
      suite.client.start('bad.wait', { key: 'big-input', input: big }),
      InvalidOptionsError,
      /^Input of "bad.wait" is 1048587 bytes; the limit is 1048576\.$/,
    );
    expect(await sql(`SELECT 1 FROM ${wf} WHERE key = 'big-input'`)).toEqual([]);

    await suite.client.start('bad.wait', { key: 'waits' });
    await eventually(async () => (await suite.client.get('waits')).steps.length > 0);
    const before = await stored('waits');
    await rejects(
      suite.client.signal('waits', 'go', big),
      InvalidOptionsError,
      /^Signal payload is \d+ bytes; the limit is 1048576\.$/,
    );
    await rejects(
      suite.client.signal('waits', 'go', { at: 'a\u0000b' }),
      SerializationError,
      /signal payload\.at: it contains a NUL character/,
    );
    expect(await stored('waits')).toEqual(before);
    await suite.client.signal('waits', 'go', { ok: true });
    await expect((await suite.client.handle('waits')).result({ timeout: '15s' })).resolves.toEqual({
      ok: true,
    });
    await expectServing();
  });

  it('should refuse malformed inputs: not an object, failing the DTO, not JSON', async () => {
    await rejects(
      suite.client.start('bad.double', { key: 'm1', input: 'seven' }),
      InputValidationError,
      /input must be an object matching CountInput/,
    );
    await rejects(
      suite.client.start('bad.double', { key: 'm2', input: { n: 'seven' } }),
      InputValidationError,
      /n must be an integer number/,
    );
    await rejects(
      suite.client.start('bad.double', { key: 'm3', input: { n: 1, at: 2n } }),
      SerializationError,
      /^input is not JSON/,
    );
    await rejects(
      suite.client.start('bad.double', { key: 'm4', input: circular() }),
      SerializationError,
      /circular structure \(at input\.self\)/,
    );
    expect(await sql(`SELECT key FROM ${wf} WHERE key LIKE 'm_'`)).toEqual([]);
  });

  it('should name the known workflows when the workflow is unknown', async () => {
    await rejects(
      suite.client.start('bad.nope', { key: 'u1' }),
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
      const handle = await suite.client.start('bad.stepReturns', { key, input: { kind } });
      await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/stalled/);
      const run = await suite.client.get(key);
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
    const handle = await suite.client.start('bad.stepThrowsNul', { key: 'nul-error' });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/stalled/);
    const run = await suite.client.get('nul-error');
    expect(run.state).toBe('stalled');
    expect(run.errors).toMatchObject([
      { errorClass: 'Error', message: 'upstream said: zero\\u0000byte \ufffd' },
    ]);
    // maxAttempts: 1 — the body ran once; the error record did not turn into a workflow failure.
    expect(BadInputWorkflows.nulThrows.get('nul-error')).toBe(1);
    await expectServing();
  });

  it('should fail a run whose workflow returns a value that does not serialize', async () => {
    const handle = await suite.client.start('bad.workflowReturns', { key: 'wf-returns' });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/failed/);
    const run = await suite.client.get('wf-returns');
    expect(run.errors).toMatchObject([
      {
        errorClass: 'SerializationError',
        message: expect.stringMatching(/function at result\.callback/),
      },
    ]);
    await expectServing();
  });

  it('should refuse retry, resume, cancel and signal in the wrong state, leaving the run as it was', async () => {
    await (await suite.client.start('bad.double', { key: 'done', input: { n: 1 } })).result();
    await suite.client.start('bad.wait', { key: 'idle' });
    await eventually(async () => (await suite.client.get('idle')).steps.length > 0);
    await suite.client.start('bad.wait', { key: 'gone' });
    await suite.client.cancel('gone');
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
      const call =
        action === 'signal' ? suite.client.signal(key, 'go', 1) : suite.client[action](key);
      await rejects(call, InvalidTransitionError, transition(key, states[key], action));
    }
    await rejects(suite.client.retry('nope'), WorkflowNotFoundError, /^No run with key "nope"\.$/);
    expect({
      done: await stored('done'),
      idle: await stored('idle'),
      gone: await stored('gone'),
    }).toEqual(snapshots);
    await expectServing();
  });
});

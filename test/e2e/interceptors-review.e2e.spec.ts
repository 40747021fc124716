import { describe, expect, it } from 'vitest';
import { type WorkflowRunDetail } from '../../lib/index.js';
import {
  ClassTrace,
  InterceptorJournal,
  MethodTrace,
  TenantContext,
  TestClsModule,
} from '../fixtures/interceptors.fixture.js';
import {
  NeverNext,
  RedactingLogger,
  ReviewFlows,
  SlowPass,
  SlowBeforeNext,
  TenantProbe,
} from '../fixtures/interceptor-review.fixture.js';
import { SerialSteps } from '../fixtures/serial-steps.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** Ways real users break workflow interceptors (the review of issue 24 item 4). */
describe('workflow interceptors under misuse and faults (e2e)', () => {
  const suite = suiteApp(
    'icptrev',
    [
      InterceptorJournal,
      TenantContext,
      SlowBeforeNext,
      TenantProbe,
      NeverNext,
      RedactingLogger,
      ClassTrace,
      MethodTrace,
      SlowPass,
      SerialSteps,
      ReviewFlows,
    ],
    { imports: [TestClsModule] },
  );
  const journal = (key: string) => suite.app.get(InterceptorJournal).of(key);
  const ended = (key: string) =>
    eventually(
      async () => {
        const run = await suite.client.get(key);
        return ['idle', 'running', 'compensating'].includes(run.state) ? null : run;
      },
      20_000,
      `${key} to end`,
    ) as Promise<WorkflowRunDetail>;

  it('should never start a step body when an interceptor calls next() after the attempt timed out', async () => {
    await suite.client.start('rev.lateNext', { key: 'late-next' });
    const run = await ended('late-next');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => [e.attempt, e.errorClass])).toEqual([
      [1, 'StepTimeoutError'],
      [2, 'StepTimeoutError'],
    ]);
    // Let the late next() calls of both attempts happen.
    await eventually(async () => journal('late-next').length >= 2, 5_000, 'both late calls');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(journal('late-next')).toEqual(['late next #1', 'late next #2']);
  });

  it("should fire a cancelled step's abort listeners in its own run's CLS context, not another run's", async () => {
    await suite.client.start('rev.abortTenant', { key: 'abort-a', input: { tenant: 't-a' } });
    await eventually(async () => journal('abort-a').includes('body waits'), 10_000, 'A waiting');
    await suite.client.start('rev.abortTenant', { key: 'abort-b', input: { tenant: 't-b' } });
    await eventually(async () => journal('abort-b').includes('body waits'), 10_000, 'B waiting');
    await suite.client.cancel('abort-b', { reason: 'test' });
    await eventually(async () => journal('abort-b').some((e) => e.startsWith('abort saw')));
    await suite.client.cancel('abort-a', { reason: 'test' });
    await eventually(async () => journal('abort-a').some((e) => e.startsWith('abort saw')));
    expect(journal('abort-b').filter((e) => e.startsWith('abort saw'))).toEqual(['abort saw t-b']);
    expect(journal('abort-a').filter((e) => e.startsWith('abort saw'))).toEqual(['abort saw t-a']);
  });

  it("should fire an abort listener in its own run's CLS context when a step interceptor starts its body from another run's", async () => {
    await suite.client.start('rev.abortQueued', {
      key: 'queued-y',
      input: { tenant: 't-y', first: true },
    });
    await eventually(
      async () => journal('queued-y').some((e) => e.startsWith('step$hold found')),
      10_000,
      'Y holds',
    );
    await suite.client.start('rev.abortQueued', { key: 'queued-x', input: { tenant: 't-x' } });
    await eventually(async () => journal('queued-x').includes('body waits'), 10_000, 'X waiting');
    await suite.client.cancel('queued-x', { reason: 'test' });
    await eventually(async () => journal('queued-x').some((e) => e.startsWith('abort saw')));
    expect(journal('queued-x').filter((e) => e.startsWith('abort saw'))).toEqual(['abort saw t-x']);
  });

  it("should not start a pass or a step inside another run's CLS context", async () => {
    const tenants = ['t-1', 't-2', 't-3'];
    const handles = await Promise.all(
      tenants.map((tenant) =>
        suite.client.start('rev.tenantSleep', { key: `leak-${tenant}`, input: { tenant } }),
      ),
    );
    const results = await Promise.all(handles.map((h) => h.result({ timeout: '15s' })));
    expect(results).toEqual(tenants);
    for (const tenant of tenants) {
      const found = journal(`leak-${tenant}`).map((e) => e.replace(/ found .*/, ''));
      expect(found).toEqual(['pass', 'step$a', 'pass', 'step$b']);
      const foreign = journal(`leak-${tenant}`).filter(
        (e) => !e.endsWith(' found none') && !e.endsWith(` found ${tenant}`),
      );
      expect(foreign).toEqual([]);
    }
  });

  it('should fail a @Repeat tick whose interceptor never calls next() without retry, as a step', async () => {
    await suite.client.start('rev.repeatNever', { key: 'repeat-never' });
    const run = await ended('repeat-never');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => [e.attempt, e.errorClass])).toEqual([[1, 'InterceptorNextError']]);
    expect(journal('repeat-never')).toEqual([]);
  });

  it("should not let an interceptor rewrite the running workflow's input by mutating its view", async () => {
    const input = { user: 'ann', secret: 's3cret' };
    const handle = await suite.client.start('rev.redacted', { key: 'redacted', input });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('ann:s3cret');
    expect(journal('redacted')).toEqual(['log step$a {"user":"ann"}']);
  });

  it('should run a step body in its own run and step when an interceptor calls next() from a queue', async () => {
    const handles = await Promise.all(
      ['q-1', 'q-2'].map((key) => suite.client.start('rev.queued', { key })),
    );
    await expect(Promise.all(handles.map((h) => h.result({ timeout: '10s' })))).resolves.toEqual([
      ['q-1:1', 'q-1:2', 'q-1:3'],
      ['q-2:1', 'q-2:2', 'q-2:3'],
    ]);
    await suite.client.start('rev.queuedSleep', { key: 'q-sleep' });
    const run = await ended('q-sleep');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => e.errorClass)).toEqual(['DurableCallInStepError']);
  });

  it('should apply every stacked @UseWorkflowInterceptors(), the upper one outermost', async () => {
    const handle = await suite.client.start('rev.stacked', { key: 'stacked' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('a');
    expect(journal('stacked')).toEqual([
      'class>pass',
      'method>pass',
      'class>step$a',
      'method>step$a',
      '<method step$a',
      '<class step$a',
      '<method pass',
      '<class pass',
    ]);
  });

  it('should run no step body of a run cancelled while a pass interceptor awaited before next()', async () => {
    await suite.client.start('rev.slowPass', { key: 'slow-pass' });
    await eventually(async () => journal('slow-pass').includes('pass entered'), 10_000, 'pass');
    await suite.client.cancel('slow-pass', { reason: 'changed my mind' });
    expect((await ended('slow-pass')).state).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(journal('slow-pass')).toEqual(['pass entered']);
  });

  it('should end a run at its deadline recording no attempt when an interceptor wraps the abort', async () => {
    await suite.client.start('rev.deadlineWrapped', { key: 'deadline-wrapped' });
    const run = await ended('deadline-wrapped');
    expect(run.state).toBe('cancelled');
    expect(run.steps.filter((s) => !s.name.startsWith('$'))).toEqual([]);
    expect(run.errors.filter((e) => e.stepName === 'step$hang')).toEqual([]);
  });

  it('should fail and retry an attempt whose interceptor throws synchronously', async () => {
    const handle = await suite.client.start('rev.syncThrow', { key: 'sync-throw' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('second');
    const run = await suite.client.get('sync-throw');
    expect(run.errors.map((e) => [e.attempt, e.message])).toEqual([[1, 'sync refusal of step$s']]);
  });
});

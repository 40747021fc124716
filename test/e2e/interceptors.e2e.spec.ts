import { describe, expect, it } from 'vitest';
import { type WorkflowRunDetail } from '../../lib/index.js';
import { FaultInjector } from '../../lib/steps/fault-injector.js';
import {
  AuditInterceptor,
  ClassTrace,
  InterceptorJournal,
  MethodTrace,
  PassTwiceInterceptor,
  TenantContext,
  TenantInterceptor,
  TestClsModule,
} from '../fixtures/interceptors.fixture.js';
import {
  CancellableFlows,
  InterceptedFlows,
  OrderedFlows,
} from '../fixtures/interceptor-flows.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * Workflow interceptors: global ones from forRoot({ interceptors }) (AuditInterceptor, a provider;
 * TenantInterceptor, created by ChronoForge with ClsService injected), then class- and
 * method-level ones from @UseWorkflowInterceptors().
 */
describe('workflow interceptors (e2e)', () => {
  const suite = suiteApp(
    'icpt',
    [
      InterceptorJournal,
      AuditInterceptor,
      // Providers: their dependency (the journal) lives in this module, not in ChronoForge's.
      ClassTrace,
      MethodTrace,
      PassTwiceInterceptor,
      TenantContext,
      OrderedFlows,
      InterceptedFlows,
      CancellableFlows,
    ],
    {
      imports: [TestClsModule],
      options: { interceptors: [AuditInterceptor, TenantInterceptor] },
    },
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

  it('should resolve interceptors through DI: a registered provider, or a class it creates', async () => {
    const handle = await suite.client.start('icpt.crashy', { key: 'di' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('b');
    // The provider found with strict: false writes to the same journal singleton.
    expect(suite.app.get(AuditInterceptor).journal).toBe(suite.app.get(InterceptorJournal));
    expect(journal('di')).toContain('<audit pass:completed');
    // TenantInterceptor is no provider: ChronoForge created it with ClsService injected.
    expect(() => suite.app.get(TenantInterceptor, { strict: false })).toThrow();
  });

  it('should run global, then class, then method interceptors, each in array order', async () => {
    const handle = await suite.client.start('icpt.ordered', { key: 'order' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('ok');
    // AuditInterceptor is listed again on the method: it runs once, at its global place.
    expect(journal('order')).toEqual([
      'audit>pass#1',
      'class>pass',
      'method>pass',
      'audit>step:step$a#1',
      'class>step$a',
      'method>step$a',
      'body a',
      '<method step$a',
      '<class step$a',
      '<audit step$a',
      '<method pass',
      '<class pass',
      '<audit pass:completed',
    ]);
  });

  it('should carry a CLS context from an interceptor to a DI service in the pass and in a step body', async () => {
    const handle = await suite.client.start('icpt.tenant', {
      key: 'cls',
      input: { tenant: 't-42' },
    });
    await expect(handle.result({ timeout: '10s' })).resolves.toEqual({
      inStep: { tenant: 't-42', runKey: 'cls' },
      inPass: { tenant: 't-42', runKey: 'cls' },
    });
  });

  it("should run a step's interceptors inside its transaction (ctx.manager)", async () => {
    const input = { tenant: 't-7' };
    const handle = await suite.client.start('icpt.sqlTenant', { key: 'sql', input });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('t-7');
  });

  it('should fail and retry a step attempt an interceptor throws in, like a failed body', async () => {
    const handle = await suite.client.start('icpt.stepRetry', { key: 'step-retry' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('flaky');
    const run = await suite.client.get('step-retry');
    expect(run.errors.map((e) => [e.stepName, e.attempt, e.message])).toEqual([
      ['step$flaky', 1, 'refused step$flaky attempt 1'],
    ]);
    const entries = journal('step-retry');
    expect(entries.filter((e) => e.startsWith('audit>step'))).toEqual([
      'audit>step:step$flaky#1',
      'audit>step:step$flaky#2',
    ]);
    expect(entries.filter((e) => e.startsWith('body'))).toEqual(['body flaky']);
  });

  it('should end a pass an interceptor throws in before next() as a workflow failure, then retry it', async () => {
    const handle = await suite.client.start('icpt.passRetry', { key: 'pass-retry' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('once');
    const run = await suite.client.get('pass-retry');
    expect(run.errors.map((e) => [e.stepName, e.message])).toEqual([[null, 'refused pass 1']]);
    expect(journal('pass-retry')).toEqual([
      'audit>pass#1',
      '<audit pass threw refused pass 1',
      'audit>pass#2',
      'audit>step:step$once#1',
      'body once',
      '<audit step$once',
      '<audit pass:completed',
    ]);
  });

  it('should refuse a second next() without a second body run and fail the step without retry', async () => {
    await suite.client.start('icpt.twice', { key: 'twice' });
    const run = await ended('twice');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => [e.stepName, e.attempt, e.errorClass])).toEqual([
      ['step$twice', 1, 'InterceptorNextError'],
    ]);
    expect(journal('twice').filter((e) => e.startsWith('body'))).toEqual(['body twice']);
  });

  it("should refuse a pass's second next(): the pass runs once and stands", async () => {
    const handle = await suite.client.start('icpt.passTwice', { key: 'pass-twice' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('once');
    const entries = journal('pass-twice');
    expect(entries.filter((e) => e.startsWith('body'))).toEqual(['body once']);
    expect(entries).toContain('first completed, second InterceptorNextError');
    expect((await suite.client.get('pass-twice')).state).toBe('completed');
  });

  it('should fail the run when a pass interceptor never calls next(), the method never running', async () => {
    await suite.client.start('icpt.skipped', { key: 'skipped' });
    const run = await ended('skipped');
    expect(run.state).toBe('failed');
    expect(run.errors.map((e) => e.errorClass)).toEqual(['InterceptorNextError']);
    expect(journal('skipped')).toEqual([
      'audit>pass#1',
      '<audit pass threw SkippingInterceptor.interceptPass() returned without calling next(); an interceptor cannot skip the work it wraps. Call next() exactly once (throw to fail the attempt instead).',
    ]);
  });

  it('should wrap a compensation attempt (kind compensation), not the rollback pass', async () => {
    await suite.client.start('icpt.saga', { key: 'saga' });
    expect((await ended('saga')).state).toBe('compensated');
    expect(journal('saga')).toEqual([
      'audit>pass#1',
      'audit>step:step$charge#1',
      'body charge',
      '<audit step$charge',
      '<audit pass:compensating',
      'audit>compensation:$compensate$step$charge#1',
      'body refund',
      '<audit $compensate$step$charge',
    ]);
  });

  it('should wrap the @OnCancel cleanup attempt (kind onCancel)', async () => {
    await suite.client.start('icpt.cancellable', { key: 'cancel' });
    await eventually(async () => (await suite.client.get('cancel')).state === 'idle');
    await suite.client.cancel('cancel', { reason: 'asked' });
    expect((await ended('cancel')).state).toBe('cancelled');
    const steps = journal('cancel').filter((e) => !e.includes('pass'));
    expect(steps).toEqual([
      'audit>onCancel:$oncancel$#1',
      'body cleanup:asked',
      '<audit $oncancel$',
    ]);
  });

  it('should wrap each @Repeat tick attempt (kind repeat)', async () => {
    const handle = await suite.client.start('icpt.repeat', { key: 'repeat' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('done');
    const steps = journal('repeat')
      .filter((e) => !e.includes('pass'))
      .map((e) => e.replace(/\$\d+/, '$<ms>'));
    expect(steps).toEqual([
      'audit>repeat:durably_repeat$tick$<ms>#1',
      'body tick',
      '<audit durably_repeat$tick$<ms>',
      'audit>repeat:durably_repeat$tick$<ms>#1',
      'body tick',
      '<audit durably_repeat$tick$<ms>',
    ]);
  });

  it('should not run interceptStep again for a step recorded before a crash', async () => {
    const faults = suite.app.get(FaultInjector);
    faults.arm('crash', 'step$a', 'after');
    const handle = await suite.client.start('icpt.crashy', { key: 'crash' });
    await eventually(async () => faults.crashed.has('crash'), 10_000, 'the crash');
    faults.crashed.delete('crash');
    // The crashed pass left its lock as a dead worker would: age it so the sweeper takes it over.
    await sql(
      `UPDATE "${suite.schema}".chrono_forge_workflows SET locked_at = now() - interval '1 hour' WHERE key = 'crash'`,
    );
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('b');
    expect(journal('crash')).toEqual([
      'audit>pass#1',
      'audit>step:step$a#1',
      'body a',
      '<audit step$a',
      '<audit pass:lock_lost',
      'audit>pass#1',
      'audit>step:step$b#1',
      'body b',
      '<audit step$b',
      '<audit pass:completed',
    ]);
  });
});

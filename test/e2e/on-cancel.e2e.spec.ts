import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CancelInfo,
  ChronoForgeModule,
  InvalidOnCancelError,
  OnCancel,
  Workflow,
  WorkflowClient,
  type WorkflowRunDetail,
} from '../../lib/index.js';
import { onCancelProviders } from '../fixtures/on-cancel.fixture.js';
import { testModuleOptions } from '../support/app.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';
import { bootLedgerApp, ledgerSteps } from '../support/ledger-app.js';
import { suiteApp } from '../support/suite.js';

/** `@OnCancel()`: a cancelled run's durable cleanup, after its rollback when it rolls back. */
describe('@OnCancel cleanup (e2e)', () => {
  const suite = suiteApp('oncancel', [], {
    boot: (schema, queueName) => bootLedgerApp(schema, queueName, onCancelProviders),
  });
  let client: WorkflowClient;
  beforeAll(() => {
    client = suite.client;
  });

  const ledger = (key: string) => ledgerSteps(suite.schema, key);
  const asleep = (key: string, steps = 1) =>
    eventually(
      async () =>
        (await client.get(key).catch(() => null))?.state === 'idle' &&
        (await ledger(key)).length >= steps,
      10_000,
      `${key} asleep`,
    );
  const ended = (key: string) =>
    eventually(
      async () => {
        const run = await client.get(key);
        return ['idle', 'running', 'compensating'].includes(run.state) ? null : run;
      },
      20_000,
      `${key} to end`,
    ) as Promise<WorkflowRunDetail>;

  it('should run the cleanup once when a run is cancelled without rolling back', async () => {
    await client.start('cleanup.sleeper', { key: 'plain', input: {} });
    await asleep('plain');
    await client.cancel('plain', { reason: 'customer asked' });
    const run = await ended('plain');
    expect(run.state).toBe('cancelled');
    expect(run.cancelReason).toBe('customer asked');
    expect(await ledger('plain')).toEqual(['do1', 'cleanup:customer asked:false']);
    expect(run.steps.map((s) => s.name)).toContain('$oncancel$');
  });

  it('should run the cleanup after the compensations of a cancel that rolls back', async () => {
    await client.start('cleanup.sleeper', { key: 'comp', input: {} });
    await asleep('comp');
    await client.cancel('comp', { reason: 'fraud', compensate: true });
    const run = await ended('comp');
    expect(run.state).toBe('compensated');
    expect(await ledger('comp')).toEqual(['do1', 'undo1', 'cleanup:fraud:true']);
  });

  it('should tell the cleanup nothing was compensated when the rollback had nothing to undo', async () => {
    await client.start('cleanup.sleepsFirst', { key: 'none', input: {} });
    await eventually(
      async () => (await client.get('none')).steps.some((s) => s.name.startsWith('wait$')),
      10_000,
      'none asleep',
    );
    await client.cancel('none', { reason: 'early', compensate: true });
    const run = await ended('none');
    expect(run.state).toBe('cancelled');
    expect(await ledger('none')).toEqual(['cleanup:early:false']);
  });

  it("should run it after the rollback the workflow's compensateOn asks for", async () => {
    await client.start('cleanup.rollsBack', { key: 'wf', input: {} });
    await asleep('wf');
    await client.cancel('wf');
    expect((await ended('wf')).state).toBe('compensated');
    expect(await ledger('wf')).toEqual(['do1', 'undo1', 'cleanup:null:true']);
  });

  it('should retry a failing cleanup by its policy and record it once', async () => {
    await client.start('cleanup.sleeper', { key: 'retry', input: { failTimes: 2 } });
    await asleep('retry');
    await client.cancel('retry', { reason: 'r' });
    const run = await ended('retry');
    expect(run.state).toBe('cancelled');
    expect(await ledger('retry')).toEqual(['do1', 'cleanup:r:false']);
    const errors = run.errors.filter((e) => e.stepName === '$oncancel$');
    expect(errors.map((e) => e.attempt)).toEqual([1, 2]);
  });

  it('should leave the run failed with the cleanup listed when it exhausts its retries', async () => {
    await client.start('cleanup.sleeper', { key: 'down', input: { failTimes: 99 } });
    await asleep('down');
    await client.cancel('down');
    const run = await ended('down');
    expect(run.state).toBe('failed');
    expect(run.compensation?.failures).toEqual([
      {
        step: '$oncancel$',
        compensation: '$oncancel$',
        errorClass: 'Error',
        message: 'cleanup attempt 3 failed',
      },
    ]);
    expect(await ledger('down')).toEqual(['do1']);
  });

  it('should run the cleanup of a run its deadline cancels', async () => {
    await client.start('cleanup.deadline', { key: 'late', input: {} });
    const run = await ended('late');
    expect(run.state).toBe('cancelled');
    const rows = await ledger('late');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^cleanup:deadline exceeded \(.+\):false$/);
  });

  it('should run the cleanup of each child a cancel with children ends', async () => {
    await client.start('cleanup.parent', { key: 'fam' });
    const kids = [0, 1].map((i) => `fam$cleanup.parent$kids$kid_${i}`);
    for (const kid of kids) await asleep(kid);
    await client.cancel('fam', { reason: 'all', children: true });
    expect((await ended('fam')).state).toBe('cancelled');
    expect(await ledger('fam')).toEqual(['cleanup:all:false']);
    for (const kid of kids) {
      expect((await ended(kid)).state).toBe('cancelled');
      expect(await ledger(kid)).toEqual(['do1', 'cleanup:all:false']);
    }
  });

  it('should run a cleanup only for the workflows it names', async () => {
    await client.start('named.cleaned', { key: 'n1' });
    await client.start('named.plain', { key: 'n2' });
    for (const key of ['n1', 'n2'])
      await eventually(async () => (await client.get(key)).state === 'idle', 10_000, key);
    await client.cancel('n1', { reason: 'x' });
    await client.cancel('n2', { reason: 'y' });
    expect((await ended('n1')).state).toBe('cancelled');
    expect((await ended('n2')).state).toBe('cancelled');
    expect(await ledger('n1')).toEqual(['named cleanup:x']);
    expect(await ledger('n2')).toEqual([]);
  });
});

describe('@OnCancel bootstrap checks (e2e)', () => {
  const schema = uniqueName('cf_oncboot');
  const queueName = uniqueName('q_oncboot');
  afterAll(() => cleanup(schema, queueName));
  const boot = async (providers: unknown[]) => {
    const options = testModuleOptions({ schema, queueName });
    @Module({ imports: [ChronoForgeModule.forRoot(options)], providers: providers as never[] })
    class M {}
    const ref = await Test.createTestingModule({ imports: [M] }).compile();
    await ref.init();
    return ref;
  };

  it('should refuse two @OnCancel methods for one workflow', async () => {
    @Injectable()
    class Two {
      @Workflow('two.cleanups') async run(): Promise<void> {}
      @OnCancel() async a(): Promise<void> {}
      @OnCancel() async b(): Promise<void> {}
    }
    const err = await boot([Two]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(InvalidOnCancelError);
    expect((err as Error).message).toContain('Two#a and Two#b');
  });

  it('should refuse a workflow name that is not a workflow of the provider', async () => {
    @Injectable()
    class Wrong {
      @Workflow('wrong.one') async run(): Promise<void> {}
      @OnCancel({ workflow: 'wrong.other' }) async cleanup(_i: unknown, _c: CancelInfo) {}
    }
    await expect(boot([Wrong])).rejects.toThrow(/names workflow "wrong.other"/);
  });

  it('should refuse @OnCancel on a provider without workflows, or on a workflow method', async () => {
    @Injectable()
    class Lonely {
      @OnCancel() async cleanup(): Promise<void> {}
    }
    await expect(boot([Lonely])).rejects.toBeInstanceOf(InvalidOnCancelError);
    @Injectable()
    class Both {
      @OnCancel() @Workflow('both.one') async run(): Promise<void> {}
    }
    await expect(boot([Both])).rejects.toThrow(/also a @Workflow/);
  });
});

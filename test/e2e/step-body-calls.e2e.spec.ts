import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { DurableCallInStepError, WorkflowClient, WorkflowFailedError } from '../../lib/index.js';
import {
  BodyLedger,
  doubleExecutionProviders,
  REFUSED_IN_STEP,
} from '../fixtures/double-execution.fixture.js';
import { suiteApp } from '../support/suite.js';

describe('durable calls inside a step body (e2e)', () => {
  const suite = suiteApp('instep', doubleExecutionProviders);
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let ledger: BodyLedger;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    ledger = app.get(BodyLedger);
  });

  it('should export DurableCallInStepError with a stable code', () => {
    const err = new DurableCallInStepError('x');
    expect(err.name).toBe('DurableCallInStepError');
    expect(err.code).toBe('CHRONOFORGE_DURABLE_CALL_IN_STEP');
  });

  const cases = [
    ...REFUSED_IN_STEP.map((call) => ({ call, swallow: false })),
    { call: 'sleep' as const, swallow: true },
  ];

  it.each(cases)(
    'should refuse ctx.$call inside a step body at once, without retry or re-run (swallowed: $swallow)',
    async ({ call, swallow }) => {
      const key = `in-step-${call}-${swallow}`;
      const handle = await client.start('double.callInStep', { key, input: { call, swallow } });
      await expect(handle.result({ timeout: '20s' })).rejects.toBeInstanceOf(WorkflowFailedError);
      const run = await client.get(key);
      expect(run.state).toBe('stalled');
      expect(run.errors.map((e) => [e.stepName, e.errorClass])).toEqual([
        ['step$outer', DurableCallInStepError.name],
      ]);
      expect(run.errors[0].message).toContain(`ctx.${call}()`);
      // The body ran once; the nested @DurableStep inside it was a plain call (no log of its own).
      expect(ledger.list(key)).toEqual(['outer', 'nested']);
      expect(run.steps.map((s) => s.name)).toEqual(['step$outer']);
    },
  );
});

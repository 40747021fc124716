import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowFailedError } from '../../lib/index.js';
import { farDurationProviders } from '../fixtures/far-durations.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

/**
 * A sleep (or a wait's timeout) of 300 000 years makes a wake time past the end of JavaScript
 * dates. It was accepted: the pass then released the run with an invalid date (pg wrote a bogus
 * wake time, and will throw in its next major: a write failing for ever, retried until
 * maxDuration). Every duration is bounded at 1000 years, so the call fails at once with
 * InvalidOptionsError, a ChronoForge error that fails the run (not retried).
 */
describe('durations past the representable wake times (e2e)', () => {
  const schema = uniqueName('cf_far');
  const queueName = uniqueName('q_far');
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: farDurationProviders });
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it.each(['far.sleep', 'far.signal'])(
    'should fail %s at once with InvalidOptionsError',
    async (workflow) => {
      const handle = await client.start(workflow, { key: workflow });
      const err = await handle.result({ timeout: '10s' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).lastError).toMatchObject({
        errorClass: 'InvalidOptionsError',
        message: expect.stringContaining('longer than 1000 years') as unknown,
      });
      const [run] = await sql<{ state: string; locked_by: string | null }>(
        `SELECT state, locked_by FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
        [workflow],
      );
      expect(run).toEqual({ state: 'failed', locked_by: null });
    },
  );
});

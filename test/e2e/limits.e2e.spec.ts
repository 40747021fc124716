import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowFailedError } from '../../lib/index.js';
import { LimitLedger, limitProviders } from '../fixtures/limits.fixture.js';
import { bootApp, testModuleOptions } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';

/** Limits used by steps and workflows, end to end on one worker process. */
describe('limits (e2e)', () => {
  const schema = uniqueName('cf_limits');
  const queueName = uniqueName('q_limits');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let ledger: LimitLedger;

  beforeAll(async () => {
    const base = testModuleOptions({ schema, queueName });
    app = await bootApp({
      schema,
      queueName,
      providers: limitProviders,
      options: {
        worker: { concurrency: 8 },
        limits: {
          pdf: { concurrency: 2 },
          api: {
            rate: [
              { limit: 3, per: '1s' },
              { limit: 100, per: '1m' },
            ],
          },
          one: { concurrency: 1 },
        },
        database: { ...base.database, poolSize: 10 },
      },
    });
    client = app.get(WorkflowClient);
    ledger = app.get(LimitLedger);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should run at most 2 limited step bodies per key, park the others idle with a reason, and spend no attempt waiting', async () => {
    const handles = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        client.start('limits.step', { key: `pdf-${i}`, input: { tenant: i < 6 ? 'a' : 'b' } }),
      ),
    );
    const parked = await eventually(
      async () => {
        for (let i = 0; i < 6; i++) {
          const run = await client.get(`pdf-${i}`);
          if (run.state === 'idle' && run.waitingOn.length > 0) return run;
        }
        return undefined;
      },
      10_000,
      'a run parked on the limit',
    );
    expect(parked.waitingOn[0]).toMatchObject({
      limit: 'pdf',
      key: 'a',
      holder: 'step$render',
      reason: 'waiting on limit pdf (key "a")',
    });
    await Promise.all(
      handles.map((h) => expect(h.result({ timeout: '20s' })).resolves.toMatch(/^pdf-/)),
    );
    expect(ledger.peak.get('pdf:a')).toBe(2);
    expect(ledger.peak.get('pdf:b')).toBe(2);
    for (let i = 0; i < 8; i++) {
      const run = await client.get(`pdf-${i}`);
      expect(run.waitingOn).toEqual([]);
      expect(run.steps.find((s) => s.name === 'step$render')?.attempts).toBe(1);
    }
    const info = await client.limits.get('pdf');
    expect(info).toMatchObject({ holders: [], waiting: [], effective: { concurrency: 2 } });
  });

  it('should hold a run-level slot per pass: at most 2 runs of a tenant execute at once', async () => {
    const handles = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        client.start('limits.run', { key: `run-${i}`, input: { tenant: i % 2 ? 'x' : 'y' } }),
      ),
    );
    await Promise.all(
      handles.map((h) => expect(h.result({ timeout: '20s' })).resolves.toBe('ran')),
    );
    expect(ledger.peak.get('run:x')).toBe(2);
    expect(ledger.peak.get('run:y')).toBe(2);
    expect((await client.limits.get('workflow:limits.run:concurrency')).effective).toEqual({
      concurrency: 2,
    });
  });

  it('should start at most 3 rate-limited runs per second and delay, never drop, the rest', async () => {
    const started = Date.now();
    const handles = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        client.start('limits.rate', { key: `rate-${i}`, input: { tenant: 't' } }),
      ),
    );
    await Promise.all(
      handles.map((h) => expect(h.result({ timeout: '20s' })).resolves.toBe('started')),
    );
    expect(ledger.starts.filter((s) => s.group === 'rate:t')).toHaveLength(7);
    // The limit admits at most 3 per second in the database's time; a body records its start in
    // the worker's, a little after its admission — up to a few hundred ms on a loaded machine, so
    // a late body of one second and the on-time bodies of the next can fall into one 1 s window of
    // the ledger. Count in a window shortened by that slack: 4 admissions in one second still fail.
    expect(ledger.maxInWindow('rate:t', 750)).toBeLessThanOrEqual(3);
    // 7 starts at 3/s: the 7th is due 2 s after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    // The pass after the sleep is not held back by the rate: its bodies follow 300 ms later.
    const [{ n }] = await sql<{ n: string }>(
      `SELECT count(*) AS n FROM "${schema}".chrono_forge_execution_logs WHERE step_name = '$limit$rate'`,
    );
    expect(Number(n)).toBe(7);
  });

  it('should rate-limit an inline ctx.step and take a runtime change of a limit at once', async () => {
    const handles = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.start('limits.inline', { key: `inline-${i}`, input: { tenant: 'k', limit: 'api' } }),
      ),
    );
    await Promise.all(
      handles.map((h) => expect(h.result({ timeout: '20s' })).resolves.toBe('called')),
    );
    expect(ledger.maxInWindow('api:k', 1000)).toBe(3);

    const first = await client.start('limits.inline', {
      key: 'one-0',
      input: { tenant: 'z', limit: 'one' },
    });
    await first.result({ timeout: '10s' });
    await client.limits.set('one', { concurrency: 3 });
    const more = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.start('limits.inline', {
          key: `one-${i + 1}`,
          input: { tenant: 'z', limit: 'one' },
        }),
      ),
    );
    await Promise.all(
      more.map((h) => expect(h.result({ timeout: '20s' })).resolves.toBe('called')),
    );
    expect(ledger.peak.get('one:z')).toBeGreaterThan(1);
    expect(ledger.peak.get('one:z')).toBeLessThanOrEqual(3);
    await client.limits.reset('one');
    expect((await client.limits.get('one')).effective).toEqual({ concurrency: 1 });
  });

  it('should fail a run whose step names a limit nobody declared', async () => {
    const handle = await client.start('limits.inline', {
      key: 'unknown-1',
      input: { tenant: 'q', limit: 'nope' },
    });
    await expect(handle.result({ timeout: '10s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    const run = await client.get('unknown-1');
    expect(run.errors.at(-1)?.errorClass).toBe('UnknownLimitError');
    await eventually(async () => (await client.limits.list()).length >= 5, 5_000, 'limits listed');
  });
});

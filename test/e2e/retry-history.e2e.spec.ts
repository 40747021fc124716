import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { HistoryProbe, historyProviders } from '../fixtures/retry-history.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * `client.retry` re-runs what stalled the run, never a failure the workflow caught: a caught
 * failure is part of the run's history, and replay gives it the same outcome again.
 */
describe('client.retry keeps the history of caught failures (e2e)', () => {
  const suite = suiteApp('rhist', historyProviders);
  const { schema } = suite;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: HistoryProbe;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    probe = app.get(HistoryProbe);
  });
  const stepStates = async (key: string) =>
    (await client.get(key)).steps
      .filter((s) => !s.name.startsWith('$'))
      .map((s) => [s.name, s.state]);

  it('should replay a caught step failure after a retry, reuse the fallback and re-run only the stalled step', async () => {
    const key = 'caught-then-stalled';
    probe.down.add(`${key}:primary`);
    probe.bookingDown.add(key);
    const handle = await client.start('history.fallback', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    expect(await stepStates(key)).toEqual([
      ['step$fetch', 'failed'],
      ['step$fetch#2', 'completed'],
      ['step$book', 'failed'],
    ]);

    // Both services are back; the operator retries the run.
    probe.down.delete(`${key}:primary`);
    probe.bookingDown.delete(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toEqual({
      rate: 'backup-rate',
      booking: 'booked at backup-rate',
      audit: 'audit-rate',
    });
    // The caught failure was replayed, not run again; the fallback's stored result was reused.
    expect(probe.count(key, 'fetch:primary')).toBe(1);
    expect(probe.count(key, 'fetch:backup')).toBe(1);
    expect(probe.count(key, 'book')).toBe(2);
    expect(probe.count(key, 'fetch:audit')).toBe(1);
    expect(await stepStates(key)).toEqual([
      ['step$fetch', 'failed'],
      ['step$fetch#2', 'completed'],
      ['step$book', 'completed'],
      ['step$fetch#3', 'completed'],
    ]);
  });

  it('should re-run a stalled step that nothing caught, once per retry while the cause persists', async () => {
    const key = 'plain-stall';
    probe.bookingDown.add(key);
    const handle = await client.start('history.fallback', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    expect(probe.count(key, 'book')).toBe(1);

    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    expect(probe.count(key, 'book')).toBe(2);

    probe.bookingDown.delete(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toEqual({
      rate: 'primary-rate',
      booking: 'booked at primary-rate',
      audit: 'audit-rate',
    });
    expect(probe.count(key, 'book')).toBe(3);
    expect(probe.count(key, 'fetch:primary')).toBe(1);
  });

  it('should re-run only the most recent failed step of a run stalled before stalls were marked', async () => {
    const key = 'legacy-stall';
    probe.down.add(`${key}:primary`);
    probe.bookingDown.add(key);
    const handle = await client.start('history.fallback', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    // A run stalled by an older version carries no `stalls_run` mark.
    await sql(
      `UPDATE "${schema}".chrono_forge_execution_logs SET metadata = metadata - 'stalls_run'
       WHERE workflow_id = (SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = $1)`,
      [key],
    );
    probe.down.delete(`${key}:primary`);
    probe.bookingDown.delete(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toMatchObject({
      rate: 'backup-rate',
      audit: 'audit-rate',
    });
    expect(probe.count(key, 'fetch:primary')).toBe(1);
    expect(probe.count(key, 'book')).toBe(2);
  });

  it('should keep the caught step failures of a failed run when it is retried', async () => {
    const key = 'caught-then-failed';
    probe.down.add(`${key}:primary`);
    probe.bookingDown.add(key);
    const handle = await client.start('history.fails', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/no seats/);
    expect(await handle.status()).toBe('failed');

    probe.down.delete(`${key}:primary`);
    probe.bookingDown.delete(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('backup-rate');
    expect(probe.count(key, 'fetch:primary')).toBe(1);
    expect(probe.count(key, 'fetch:backup')).toBe(1);
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { timerProviders } from '../fixtures/timers.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

/**
 * The worker machine's clock is a minute off the database's: `Date.now()` in this process is moved,
 * PostgreSQL's `now()` is not. Runs still start, sleep and wake on time.
 */
describe.each([
  ['behind', -60_000],
  ['ahead of', 60_000],
])('a worker whose clock is a minute %s the database (e2e)', (_label, skewMs) => {
  const schema = uniqueName('cf_skew');
  const queueName = uniqueName('q_skew');
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skewMs);
    app = await bootApp({ schema, queueName, providers: timerProviders });
    client = app.get(WorkflowClient);
  });
  afterAll(async () => {
    await app?.close();
    vi.restoreAllMocks();
    await cleanup(schema, queueName);
  });

  it('should start a run and end its sleep promptly, with the wake time on the database clock', async () => {
    const handle = await client.start('timers.sleep', { key: 'nap', input: { ms: 300 } });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('slept');
    const [{ wake_at: wakeAt, drift }] = await sql<{ wake_at: string; drift: number }>(
      `SELECT l.metadata->>'wake_at' AS wake_at,
              abs(extract(epoch FROM (l.metadata->>'wake_at')::timestamptz - now())) AS drift
       FROM "${schema}".chrono_forge_execution_logs l WHERE l.step_name = 'wait$nap'`,
    );
    expect(typeof wakeAt).toBe('string');
    // Written a moment ago on the database's clock, not a minute off it.
    expect(Number(drift)).toBeLessThan(30);
  });
});

import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowNotFoundError } from '../../lib/index.js';
import { FlowLedger, flowProviders } from '../fixtures/flow.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';

/** Singleton, debounce, locks, once and priority, end to end on one worker process. */
describe('flow control (e2e)', () => {
  const schema = uniqueName('cf_flow');
  const queueName = uniqueName('q_flow');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let ledger: FlowLedger;

  beforeAll(async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: flowProviders,
      options: { worker: { concurrency: 25 }, limits: { single: { concurrency: 1 } } },
    });
    client = app.get(WorkflowClient);
    ledger = app.get(FlowLedger);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it("singleton 'skip': a start while a run of the key is active returns that run's handle and creates none", async () => {
    const first = await client.start('flow.skip', {
      key: 'skip-1',
      input: { customer: 'c', n: 1 },
    });
    const second = await client.start('flow.skip', {
      key: 'skip-2',
      input: { customer: 'c', n: 2 },
    });
    expect(second.key).toBe('skip-1');
    await expect(client.get('skip-2')).rejects.toBeInstanceOf(WorkflowNotFoundError);
    // Another key is not affected.
    const other = await client.start('flow.skip', {
      key: 'skip-3',
      input: { customer: 'd', n: 3 },
    });
    expect(other.key).toBe('skip-3');
    await client.signal('skip-1', 'go');
    await client.signal('skip-3', 'go');
    await expect(first.result({ timeout: '20s' })).resolves.toBe('done-1');
    await expect(other.result({ timeout: '20s' })).resolves.toBe('done-3');
    // Once the run ended, a start creates a new run.
    const again = await client.start('flow.skip', {
      key: 'skip-4',
      input: { customer: 'c', n: 4 },
    });
    expect(again.key).toBe('skip-4');
    await client.signal('skip-4', 'go');
    await expect(again.result({ timeout: '20s' })).resolves.toBe('done-4');
  });

  it("singleton 'queue': runs of one key run one at a time, each for its whole life (across passes)", async () => {
    const handles = [];
    for (let n = 1; n <= 4; n++)
      handles.push(
        await client.start('flow.queue', { key: `queue-${n}`, input: { customer: 'q', n } }),
      );
    const parked = await eventually(
      async () => {
        const run = await client.get('queue-4');
        return run.waitingOn[0];
      },
      20_000,
      'the last run waiting on the singleton',
    );
    expect(parked).toMatchObject({
      limit: 'workflow:flow.queue:singleton',
      key: 'q',
      holder: '$singleton',
    });
    await Promise.all(handles.map((h) => h.result({ timeout: '30s' })));
    const seen = ledger.events.filter((e) => /^(begin|end):/.test(e));
    expect(seen).toHaveLength(8);
    for (let i = 0; i < seen.length; i += 2) {
      const n = seen[i].split(':')[1];
      expect([seen[i], seen[i + 1]]).toEqual([`begin:${n}`, `end:${n}`]);
    }
    expect((await client.limits.get('workflow:flow.queue:singleton')).holders).toEqual([]);
  });

  it("singleton 'cancelPrevious': a start cancels the key's active run, with a reason", async () => {
    const first = await client.start('flow.cancel', {
      key: 'cancel-1',
      input: { customer: 'x', n: 1 },
    });
    await eventually(async () => (await client.get('cancel-1')).state === 'idle', 20_000);
    const second = await client.start('flow.cancel', {
      key: 'cancel-2',
      input: { customer: 'x', n: 2 },
    });
    expect(second.key).toBe('cancel-2');
    const cancelled = await client.get('cancel-1');
    expect(cancelled).toMatchObject({
      state: 'cancelled',
      cancelReason: 'superseded by run cancel-2',
    });
    await expect(first.result({ timeout: '5s' })).rejects.toThrow();
    await client.signal('cancel-2', 'go');
    await expect(second.result({ timeout: '20s' })).resolves.toBe('done-2');
  });

  it('debounce: the last start of a burst runs once, after the period; the earlier ones end cancelled', async () => {
    const handles = [];
    for (let n = 1; n <= 3; n++)
      handles.push(
        await client.start('flow.debounce', { key: `deb-${n}`, input: { customer: 'k', n } }),
      );
    await expect(handles[2].result({ timeout: '20s' })).resolves.toBe(3);
    expect(await client.get('deb-1')).toMatchObject({
      state: 'cancelled',
      cancelReason: 'debounced by run deb-2',
    });
    expect(await client.get('deb-2')).toMatchObject({
      state: 'cancelled',
      cancelReason: 'debounced by run deb-3',
    });
    expect(ledger.events.filter((e) => e.startsWith('debounced:'))).toEqual(['debounced:3']);
  });

  it('ordered withLock: waiters get the lock in the order their runs started, not the order they asked', async () => {
    const holder = await client.start('flow.lock', {
      key: 'lock-0',
      input: { n: 0, delay: 0, ordered: true, hold: true },
    });
    await eventually(async () => ledger.events.includes('lock:0'), 20_000, 'the holder inside');
    const handles = [];
    // Later runs ask first: run n sleeps (5 - n) × 250 ms before it asks.
    for (let n = 1; n <= 5; n++)
      handles.push(
        await client.start('flow.lock', {
          key: `lock-${n}`,
          input: { n, delay: (5 - n) * 250, ordered: true },
        }),
      );
    await eventually(
      async () => (await client.limits.get('$lock$ordered')).waiting.length === 5,
      30_000,
      'five runs waiting on the lock',
    );
    const waiting = await client.get('lock-3');
    expect(waiting.waitingOn[0]).toMatchObject({ limit: '$lock$ordered', key: 'account-1' });
    ledger.open('lock');
    await expect(holder.result({ timeout: '20s' })).resolves.toBe(0);
    await Promise.all(handles.map((h) => h.result({ timeout: '30s' })));
    expect(ledger.events.filter((e) => e.startsWith('lock:'))).toEqual([
      'lock:0',
      'lock:1',
      'lock:2',
      'lock:3',
      'lock:4',
      'lock:5',
    ]);
    expect((await client.limits.get('$lock$ordered')).holders).toEqual([]);
  });

  it('once: 20 concurrent runs run the body once per period; the others skip it', async () => {
    const handles = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.start('flow.once', { key: `once-${i}`, input: { period: '1h' } }),
      ),
    );
    const results = await Promise.all(handles.map((h) => h.result({ timeout: '30s' })));
    expect(results.filter((r) => r === 'charged')).toHaveLength(1);
    expect(results.filter((r) => r === 'skipped')).toHaveLength(19);
    expect(ledger.events.filter((e) => e === 'charge')).toHaveLength(1);
  });

  it('priority: among the waiters of a limit, a lower start priority is admitted first', async () => {
    const holder = await client.start('flow.priority', {
      key: 'prio-0',
      input: { n: 0, hold: true },
    });
    await eventually(async () => ledger.events.includes('prio:0'), 20_000, 'the holder inside');
    const late = await client.start('flow.priority', {
      key: 'prio-1',
      input: { n: 1 },
      priority: 5,
    });
    await eventually(async () => (await client.get('prio-1')).waitingOn.length === 1, 20_000);
    const urgent = await client.start('flow.priority', {
      key: 'prio-2',
      input: { n: 2 },
      priority: 1,
    });
    await eventually(async () => (await client.get('prio-2')).waitingOn.length === 1, 20_000);
    ledger.open('prio');
    await Promise.all([holder, late, urgent].map((h) => h.result({ timeout: '20s' })));
    expect(ledger.events.filter((e) => e.startsWith('prio:'))).toEqual([
      'prio:0',
      'prio:2',
      'prio:1',
    ]);
    await expect(
      client.start('flow.priority', { key: 'prio-x', input: { n: 9 }, priority: -1 }),
    ).rejects.toThrow(/priority of start\(\) must be an integer/);
  });
});

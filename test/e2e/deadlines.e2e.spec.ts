import type { INestApplicationContext } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadlineExceededError, InvalidOptionsError, WorkflowClient } from '../../lib/index.js';
import { deadlineProviders, hangingServer } from '../fixtures/deadline.fixture.js';
import { LifecycleProbe, lifecycleProviders } from '../fixtures/lifecycle.fixture.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';
import { bootLedgerApp, ledgerSteps } from '../support/ledger-app.js';

/** Run deadlines (durable, from the start, inherited by children) and step timeouts. */
describe('deadlines and step timeouts (e2e)', () => {
  const schema = uniqueName('cf_deadline');
  const queueName = uniqueName('q_deadline');
  // Restarted mid-suite (no worker alive at a deadline), so not a suiteApp.
  const boot = () =>
    bootLedgerApp(schema, queueName, [...lifecycleProviders, ...deadlineProviders]);
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let server: Server;
  const closedRequests: number[] = [];

  beforeAll(async () => {
    app = await boot();
    client = app.get(WorkflowClient);
    // Answers nothing, ever: only an aborted fetch ends a request.
    server = createServer((req: IncomingMessage) => {
      req.socket.on('close', () => closedRequests.push(Date.now()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    hangingServer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/quote`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    server?.close();
    await app?.close();
    await cleanup(schema, queueName);
  });

  const ledger = (key: string) => ledgerSteps(schema, key);
  const ended = (key: string, timeoutMs = 15_000) =>
    eventually(
      async () => {
        const run = await client.get(key);
        return ['idle', 'running', 'compensating'].includes(run.state) ? null : run;
      },
      timeoutMs,
      `${key} to end`,
    );

  it('should cancel a run sleeping for 1 h at its deadline, with no worker alive then', async () => {
    await client.start('deadline.sleeper', { key: 'sleepy', timeout: '2s' });
    await eventually(async () => (await ledger('sleepy')).length === 1, 10_000, 'the step');
    const { deadlineAt } = await client.get('sleepy');
    expect(deadlineAt).toBeInstanceOf(Date);
    // Every worker goes away; the deadline passes; a worker starts later.
    await app.close();
    const wait = deadlineAt!.getTime() + 1_000 - Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    app = await boot();
    client = app.get(WorkflowClient);
    const startedAt = Date.now();
    const run = await ended('sleepy', 10_000);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(run.state).toBe('cancelled');
    expect(run.cancelReason).toMatch(/^deadline exceeded/);
    expect(await ledger('sleepy')).toEqual(['book']);
  });

  it("should fail with DeadlineExceededError under onTimeout: 'fail'", async () => {
    await client.start('deadline.fails', { key: 'fails' });
    const run = await ended('fails');
    expect(run.state).toBe('failed');
    expect(run.errors.map((e) => e.errorClass)).toContain(DeadlineExceededError.name);
  });

  it("should roll back at the deadline when compensateOn lists 'cancelled'", async () => {
    await client.start('deadline.rollsBack', { key: 'undo' });
    const run = await ended('undo');
    expect(run.state).toBe('compensated');
    expect(run.cancelReason).toMatch(/^deadline exceeded/);
    expect(await ledger('undo')).toEqual(['book', 'unbook']);
  });

  it('should abort a running step body at the deadline and record no attempt of it', async () => {
    const probe = app.get(LifecycleProbe);
    const started = Date.now();
    await client.start('deadline.hang', { key: 'hang' });
    const run = await ended('hang');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(run.state).toBe('cancelled');
    expect(probe.aborted.get('hang')).toBeInstanceOf(DeadlineExceededError);
    expect(run.steps.filter((s) => !s.name.startsWith('$'))).toEqual([]);
    expect(await ledger('hang')).toEqual([]);
  });

  it("should give a child its parent's deadline and end both at it", async () => {
    await client.start('deadline.parent', { key: 'parent' });
    const child = 'parent$deadline.parent$kids$kid';
    await eventually(async () => (await ledger(child)).length === 1, 10_000, 'the child step');
    const deadlines = await sql<{ key: string; deadline_at: Date }>(
      `SELECT key, deadline_at FROM "${schema}".chrono_forge_workflows WHERE key LIKE 'parent%' ORDER BY id`,
    );
    expect(deadlines.map((d) => d.key)).toEqual(['parent', child]);
    expect(deadlines[1].deadline_at.getTime()).toBe(deadlines[0].deadline_at.getTime());
    expect((await ended(child)).state).toBe('cancelled');
    expect((await ended('parent')).state).toBe('cancelled');
  });

  it('should abandon a step attempt at its timeout, abort its fetch, and retry it', async () => {
    const before = closedRequests.length;
    await client.start('deadline.quote', { key: 'quote' });
    const run = await ended('quote');
    expect(run.state).toBe('stalled');
    const timeouts = run.errors.filter((e) => e.errorClass === 'StepTimeoutError');
    expect(timeouts.map((e) => e.attempt)).toEqual([1, 2]);
    expect(timeouts[0].message).toContain('300 ms');
    // Both fetches were aborted through ctx.abortSignal: the server saw their connections close.
    await eventually(async () => closedRequests.length - before === 2, 5_000, 'aborted fetches');
  });

  it('should refuse a timeout that is not a positive duration', async () => {
    await expect(
      client.start('deadline.sleeper', { key: 'bad', timeout: 'soon' as '1s' }),
    ).rejects.toThrow(InvalidOptionsError);
    await expect(client.start('deadline.sleeper', { key: 'bad', timeout: 0 })).rejects.toThrow(
      InvalidOptionsError,
    );
  });
});

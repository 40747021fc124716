import { Injectable } from '@nestjs/common';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  EventNotSetError,
  EventTimeoutError,
  type RunUpdate,
  Workflow,
  WorkflowContext,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '../../lib/index.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

@Injectable()
class EventWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  /** Sets events across passes (a timer and a signal between them). */
  @Workflow('events.progress')
  async progress(): Promise<string> {
    await this.ctx.setEvent('stage', 'charged');
    await this.ctx.sleep('50ms', 'pause');
    await this.ctx.setEvent('stage', 'packed');
    await this.ctx.setEvent('eta', { at: new Date('2026-12-24T12:00:00.000Z') });
    await this.ctx.waitForSignal('go');
    await this.ctx.setEvent('stage', 'shipped');
    await this.ctx.setEvent('delivered', true);
    return 'done';
  }

  /** Sets one event and ends, cancelled (waiting for a signal) or completed. */
  @Workflow('events.short')
  async short(input: { wait?: boolean }): Promise<string> {
    await this.ctx.setEvent('stage', 'started');
    if (input.wait) await this.ctx.waitForSignal('never', { timeout: '1h' });
    return 'done';
  }

  /** setEvent inside a step body is a durable call in a step: refused. */
  @Workflow('events.inStep')
  async inStep(): Promise<void> {
    await this.ctx.step('body', () => this.ctx.setEvent('stage', 'x'));
  }
}

describe('events: ctx.setEvent, client.getEvent and client.watch (e2e)', () => {
  const suite = suiteApp('events', [EventWorkflows]);
  const eventLogs = (key: string) =>
    sql<{ step_name: string }>(
      `SELECT l.step_name FROM "${suite.schema}".chrono_forge_execution_logs l
       JOIN "${suite.schema}".chrono_forge_workflows w ON w.id = l.workflow_id
       WHERE w.key = $1 AND l.step_name LIKE 'event$%' ORDER BY l.id`,
      [key],
    );

  it('should wait for an event, return its latest value and record each set once', async () => {
    const { client } = suite;
    await client.start('events.progress', { key: 'order-1' });
    await expect(client.getEvent('order-1', 'never', { timeout: '300ms' })).rejects.toThrow(
      EventTimeoutError,
    );
    const eta = await client.getEvent<{ at: Date }>('order-1', 'eta', { timeout: '20s' });
    expect(eta.at).toBeInstanceOf(Date);
    expect(eta.at.toISOString()).toBe('2026-12-24T12:00:00.000Z');
    await expect(client.getEvent('order-1', 'stage', { timeout: 0 })).resolves.toBe('packed');
    await client.signal('order-1', 'go');
    await expect((await client.handle('order-1')).result({ timeout: '20s' })).resolves.toBe('done');
    await expect(client.getEvent('order-1', 'stage')).resolves.toBe('shipped');
    expect((await eventLogs('order-1')).map((r) => r.step_name)).toEqual([
      'event$stage',
      'event$stage#2',
      'event$eta',
      'event$stage#3',
      'event$delivered',
    ]);
  });

  it('should resolve a pending getEvent once the run sets the event', async () => {
    const { client } = suite;
    await client.start('events.progress', { key: 'order-2' });
    await client.getEvent('order-2', 'eta', { timeout: '20s' });
    let settled = false;
    const pending = client.getEvent('order-2', 'delivered', { timeout: '30s' });
    void pending.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    await client.signal('order-2', 'go');
    await expect(pending).resolves.toBe(true);
  });

  it('should stream a run’s events and state changes, then complete', async () => {
    const { client } = suite;
    await client.start('events.progress', { key: 'order-3' });
    const updates = lastValueFrom(client.watch('order-3', { every: '50ms' }).pipe(toArray()));
    await client.getEvent('order-3', 'eta', { timeout: '20s' });
    await client.signal('order-3', 'go');
    const all: RunUpdate[] = await updates;
    const events = all.filter((u) => u.type === 'event').map((u) => u.data);
    expect(events).toEqual([
      { key: 'order-3', name: 'stage', value: 'charged' },
      { key: 'order-3', name: 'stage', value: 'packed' },
      { key: 'order-3', name: 'eta', value: { at: new Date('2026-12-24T12:00:00.000Z') } },
      { key: 'order-3', name: 'stage', value: 'shipped' },
      { key: 'order-3', name: 'delivered', value: true },
    ]);
    const steps = all.filter((u) => u.type === 'step').map((u) => u.data.step);
    expect(steps).toEqual(['wait$pause', 'signal$go', '$workflow_completion$']);
    const states = all.filter((u) => u.type === 'state').map((u) => u.data.state);
    expect(states.at(-1)).toBe('completed');
    expect(new Set(all.map((u) => u.id)).size).toBe(all.length);
  });

  it('should refuse setEvent inside a step body and unknown runs', async () => {
    const { client } = suite;
    const handle = await client.start('events.inStep', { key: 'in-step' });
    const error = await handle.result({ timeout: '20s' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as Error).message).toMatch(/DurableCallInStepError/);
    await expect(client.getEvent('no-such-run', 'stage', { timeout: 0 })).rejects.toThrow(
      WorkflowNotFoundError,
    );
    await expect(lastValueFrom(client.watch('no-such-run'))).rejects.toThrow(WorkflowNotFoundError);
  });

  it('should fail getEvent at once on a run that ended without setting the event', async () => {
    const { client } = suite;
    const handle = await client.start('events.short', { key: 'ended-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    const started = Date.now();
    const error = await client.getEvent('ended-1', 'never', { timeout: '30s' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(EventNotSetError);
    expect(error).toBeInstanceOf(EventTimeoutError);
    expect(error).toMatchObject({ key: 'ended-1', event: 'never', state: 'completed' });
    await expect(client.getEvent('ended-1', 'stage', { timeout: 0 })).resolves.toBe('started');
  });

  it('should end a pending getEvent when the run is cancelled', async () => {
    const { client } = suite;
    await client.start('events.short', { key: 'ended-2', input: { wait: true } });
    await client.getEvent('ended-2', 'stage', { timeout: '20s' });
    const pending = client.getEvent('ended-2', 'never', { timeout: '60s' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 300));
    const cancelledAt = Date.now();
    await client.cancel('ended-2');
    const error = await pending;
    expect(Date.now() - cancelledAt).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(EventNotSetError);
    expect(error).toMatchObject({ state: 'cancelled', code: 'CHRONOFORGE_EVENT_NOT_SET' });
  });
});

import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableStep, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, eventually, uniqueName } from '../support/env.js';

/** Where the parallel steps are (one process: the test's app). */
const probe = { txStarted: 0, plainDone: false };

/**
 * Parallel steps that all set durable state, on a pool of two connections: two transactional
 * steps hold both connections while a plain step's checkpoint waits for one. State writes are
 * claimed one at a time; the plain step must not hold the claim while it waits for the pool.
 */
@Injectable()
class ClaimPoolWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('claimPool.run')
  async run(): Promise<unknown> {
    await Promise.all([this.plain(), this.booked('b'), this.booked('c')]);
    return { a: this.ctx.state.get('a'), b: this.ctx.state.get('b'), c: this.ctx.state.get('c') };
  }

  @DurableStep()
  async plain(): Promise<string> {
    await eventually(async () => probe.txStarted === 2);
    this.ctx.state.set('a', 1);
    probe.plainDone = true;
    return 'a';
  }

  @DurableStep({ transactional: true })
  async booked(name: string): Promise<string> {
    probe.txStarted++;
    await eventually(async () => probe.plainDone);
    // Let the plain step's checkpoint start (it waits for a pooled connection).
    await new Promise((r) => setTimeout(r, 100));
    await this.ctx.manager.query('SELECT 1');
    this.ctx.state.set(name, 1);
    return name;
  }
}

describe('state claims on a small pool (e2e)', () => {
  const schema = uniqueName('cf_claim');
  const queueName = uniqueName('q_claim');
  let app: INestApplicationContext | undefined;

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should complete parallel state-setting steps when transactional ones hold the pool', async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: [ClaimPoolWorkflow],
      options: { database: { url: DATABASE_URL, schema, poolSize: 2 } },
    });
    const handle = await app.get(WorkflowClient).start('claimPool.run', { key: 'claim' });
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual({ a: 1, b: 1, c: 1 });
  });
});

import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DurableStep,
  type SearchAttributeError,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, uniqueName } from '../support/env.js';

/**
 * setAttributes from a transactional step, whose transaction holds a pooled connection: its write
 * needed a second one, so on a one-connection pool the run never went on. It is refused at once.
 */
@Injectable()
class BookingWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('attrPool.book')
  async book(): Promise<string> {
    const refused = await this.booked();
    await this.ctx.setAttributes({ booked: true });
    return refused;
  }

  @DurableStep({ transactional: true })
  async booked(): Promise<string> {
    await this.ctx.manager.query('SELECT 1');
    return this.ctx.setAttributes({ booked: true }).then(
      () => 'stored',
      (e: SearchAttributeError) => e.code,
    );
  }
}

describe('search attributes from a transactional step on a one-connection pool (e2e)', () => {
  const schema = uniqueName('cf_attrpool');
  const queueName = uniqueName('q_attrpool');
  let app: INestApplicationContext | undefined;

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should refuse them in the step at once, and set them from the body after it', async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: [BookingWorkflow],
      options: { database: { url: DATABASE_URL, schema, poolSize: 1 } },
    });
    const client = app.get(WorkflowClient);
    const handle = await client.start('attrPool.book', { key: 'book-1' });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('CHRONOFORGE_SEARCH_ATTRIBUTE');
    expect((await client.get('book-1')).attributes).toEqual({ booked: true });
  }, 30_000);
});

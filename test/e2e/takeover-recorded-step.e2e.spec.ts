import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

const schema = uniqueName('cf_takeover');
const queueName = uniqueName('q_takeover');

/**
 * A pass that took a run over can miss a checkpoint the previous owner committed while the
 * takeover waited on the run's row lock (the takeover read the step logs as of before). Its own
 * checkpoint of that step is then refused by the unique log, although the lock is its own: it must
 * adopt the recorded result and go on, not end as if it had lost the lock (which left the run
 * `running`, locked by a live worker, until maxDuration).
 */
@Injectable()
class TakeoverWorkflows {
  readonly bodies: string[] = [];

  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('takeover.recorded')
  async recorded(): Promise<string> {
    const first = await this.ctx.step('one', async () => {
      this.bodies.push('one');
      // The previous owner's checkpoint of this very step commits now, after our acquire read
      // the logs: the same row the previous owner's INSERT would have written.
      await sql(
        `INSERT INTO "${schema}".chrono_forge_execution_logs
           (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at, result, metadata)
         SELECT id, 'step$one', 'completed', 1, now(), now(), now(), '{"json":"from-previous-owner"}', '{}'
         FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
        [this.ctx.key],
      );
      return 'from-this-pass';
    });
    const second = await this.ctx.step('two', () => {
      this.bodies.push('two');
      return 'two';
    });
    return `${first}+${second}`;
  }
}

describe('a takeover whose read missed the checkpoint of the previous owner (e2e)', () => {
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: [TakeoverWorkflows] });
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should adopt the recorded result while it still owns the lock, and complete', async () => {
    const handle = await client.start('takeover.recorded', { key: 'k1', input: null });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('from-previous-owner+two');
    expect(app.get(TakeoverWorkflows).bodies).toEqual(['one', 'two']);
  });
});

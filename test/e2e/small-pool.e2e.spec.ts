import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DurableStep, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, sql, uniqueName } from '../support/env.js';

@Injectable()
class SmallPoolWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('pool.small')
  async run(input: { n: number }): Promise<number> {
    const a = await this.double(input.n);
    await this.ctx.sleep('50ms');
    const b = await this.ctx.step('plus', () => a + 1);
    return this.store(b);
  }

  @DurableStep()
  async double(n: number): Promise<number> {
    return n * 2;
  }

  @DurableStep({ transactional: true })
  async store(n: number): Promise<number> {
    const [row] = (await this.ctx.manager.query('SELECT $1::int + 0 AS v', [n])) as { v: number }[];
    return row.v;
  }
}

describe('a pool of one connection (e2e)', () => {
  const schema = uniqueName('cf_pool1');
  const queueName = uniqueName('q_pool1');
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(() => cleanup(schema, queueName));

  it('should boot a worker with `database.poolSize: 1` (migrations included) and run workflows', async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: [SmallPoolWorkflow],
      options: { database: { url: DATABASE_URL, schema, poolSize: 1 } },
    });
    const applied = await sql(`SELECT name FROM "${schema}".chrono_forge_migrations`);
    expect(applied.length).toBeGreaterThan(0);
    const client = app.get(WorkflowClient);
    const handles = await Promise.all(
      [1, 2, 3].map((n) => client.start('pool.small', { key: `k-${n}`, input: { n } })),
    );
    const results = await Promise.all(handles.map((h) => h.result({ timeout: '20s' })));
    expect(results).toEqual([3, 5, 7]);
  });

  it("should boot and run on the application's DataSource when its pool has one connection", async () => {
    const own = uniqueName('cf_pool1_ds');
    const dataSource = new DataSource({ type: 'postgres', url: DATABASE_URL, poolSize: 1 });
    await dataSource.initialize();
    try {
      app = await bootApp({
        schema: own,
        queueName,
        providers: [SmallPoolWorkflow],
        options: { database: { dataSource, schema: own } },
      });
      const handle = await app
        .get(WorkflowClient)
        .start('pool.small', { key: 'ds', input: { n: 5 } });
      await expect(handle.result({ timeout: '20s' })).resolves.toBe(11);
    } finally {
      await app?.close();
      app = undefined;
      await dataSource.destroy();
      await cleanup(own, queueName);
    }
  });
});

import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeModule,
  chronoForgeMigrations,
  DuplicateWorkflowError,
  DurableStep,
  InvalidOptionsError,
  NotInWorkflowError,
  ReservedNameError,
  Workflow,
  WorkflowClient,
  WorkflowContext,
  WorkflowNotFoundError,
} from '../../lib/index.js';
import { testModuleOptions } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

const schema = uniqueName('cf_boot');
const queueName = uniqueName('q_boot');

async function boot(providers: unknown[], options = testModuleOptions({ schema, queueName })) {
  @Module({ imports: [ChronoForgeModule.forRoot(options)], providers: providers as never[] })
  class M {}
  const ref = await Test.createTestingModule({ imports: [M] }).compile();
  await ref.init();
  return ref;
}

describe('module bootstrap (e2e)', () => {
  afterAll(() => cleanup(schema, queueName));

  it('should fail bootstrap with DuplicateWorkflowError on a duplicate workflow name', async () => {
    @Injectable()
    class A {
      @Workflow('same.name') async run(): Promise<void> {}
    }
    @Injectable()
    class B {
      @Workflow('same.name') async run(): Promise<void> {}
    }
    await expect(boot([A, B])).rejects.toBeInstanceOf(DuplicateWorkflowError);
  });

  it('should fail bootstrap with ReservedNameError on a name containing "$"', async () => {
    @Injectable()
    class C {
      @Workflow('bad$name') async run(): Promise<void> {}
    }
    await expect(boot([C])).rejects.toBeInstanceOf(ReservedNameError);
    @Injectable()
    class D {
      @DurableStep('step$x') async step(): Promise<void> {}
    }
    await expect(boot([D])).rejects.toBeInstanceOf(ReservedNameError);
  });

  it('should reject invalid module options with a clear message', async () => {
    const bad = { ...testModuleOptions({ schema, queueName }), database: { url: 'mysql://nope' } };
    await expect(boot([], bad)).rejects.toThrow(InvalidOptionsError);
    await expect(
      boot([], { ...testModuleOptions({ schema, queueName }), queue: { redis: { url: '' } } }),
    ).rejects.toThrow(/queue\.redis\.url/);
  });

  it('should boot with forRootAsync, create the tables through migrations, and expose the client', async () => {
    @Injectable()
    class E {
      constructor(private readonly ctx: WorkflowContext) {}
      @Workflow('async.e') async run(): Promise<string> {
        return this.ctx.key;
      }
      outside(): string {
        return this.ctx.key;
      }
    }
    @Module({
      imports: [
        ChronoForgeModule.forRootAsync({
          useFactory: async () => ({
            ...testModuleOptions({ schema, queueName }),
            recovery: false as const,
          }),
        }),
      ],
      providers: [E],
    })
    class M {}
    const ref = await Test.createTestingModule({ imports: [M] }).compile();
    await ref.init();
    try {
      const tables = await sql<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
        [schema],
      );
      expect(tables.map((t) => t.table_name)).toEqual([
        'chrono_forge_error_logs',
        'chrono_forge_execution_logs',
        'chrono_forge_limit_keys',
        'chrono_forge_limit_slots',
        'chrono_forge_limits',
        'chrono_forge_migrations',
        'chrono_forge_schedules',
        'chrono_forge_signals',
        'chrono_forge_workers',
        'chrono_forge_workflows',
      ]);
      const migrations = await sql<{ name: string }>(
        `SELECT name FROM "${schema}".chrono_forge_migrations ORDER BY id`,
      );
      expect(migrations.map((m) => m.name)).toEqual(chronoForgeMigrations.map((m) => m.name));
      // Migration 3 replaced the step-log → run foreign key (a lock per step insert) by a
      // delete trigger: deleting a run still deletes its logs.
      const fks = await sql<{ conname: string }>(
        `SELECT conname FROM pg_constraint WHERE contype = 'f'
           AND conrelid = ('"' || $1 || '".chrono_forge_execution_logs')::regclass`,
        [schema],
      );
      expect(fks).toEqual([]);
      const [run] = await sql<{ id: string }>(
        `INSERT INTO "${schema}".chrono_forge_workflows (key, job_name, input, max_duration_ms)
         VALUES ('doomed', 'seeded', 'null', 1000) RETURNING id`,
      );
      await sql(
        `INSERT INTO "${schema}".chrono_forge_execution_logs (workflow_id, step_name) VALUES ($1, 'a'), ($1, 'b')`,
        [run.id],
      );
      await sql(`DELETE FROM "${schema}".chrono_forge_workflows WHERE id = $1`, [run.id]);
      const orphans = await sql(
        `SELECT 1 FROM "${schema}".chrono_forge_execution_logs WHERE workflow_id = $1`,
        [run.id],
      );
      expect(orphans).toEqual([]);
      const client = ref.get(WorkflowClient);
      await expect(
        client.start(E, 'run', { key: 'typed-1' }).then((h) => h.result({ timeout: '10s' })),
      ).resolves.toBe('typed-1');
      await expect(client.start('missing.workflow', { key: 'x' })).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
      await expect(client.get('no-such-key')).rejects.toBeInstanceOf(WorkflowNotFoundError);
      expect(() => ref.get(E).outside()).toThrow(NotInWorkflowError);
    } finally {
      await ref.close();
    }
  });
});

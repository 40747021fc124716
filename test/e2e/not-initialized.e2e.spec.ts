import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  ChronoForgeModule,
  NotInitializedError,
  WorkflowQueue,
} from '../../lib/index.js';
import { testModuleOptions } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';

/** The database and the queue used before the module's init fail with a named error saying when to use them. */
describe('use before init (e2e)', () => {
  const schema = uniqueName('cf_uninit');
  const queueName = uniqueName('q_uninit');
  let moduleRef: TestingModule;

  beforeAll(async () => {
    const options = testModuleOptions({ schema, queueName });
    @Module({ imports: [ChronoForgeModule.forRoot({ ...options, queue: { postgres: true } })] })
    class AppModule {}
    // Compiled, never initialized: no onModuleInit has run.
    moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await cleanup(schema, queueName);
  });

  it('should throw NotInitializedError for the DataSource before the database is initialized', () => {
    const database = moduleRef.get(ChronoForgeDatabase);
    expect(() => database.dataSource).toThrow(NotInitializedError);
    expect(() => database.dataSource).toThrow(/after app\.init\(\)/);
  });

  it('should throw NotInitializedError for the BullMQ queue before the queue is initialized', () => {
    const queue = moduleRef.get(WorkflowQueue);
    let thrown: unknown;
    try {
      void queue.bullQueue;
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(NotInitializedError);
    expect((thrown as NotInitializedError).code).toBe('CHRONOFORGE_NOT_INITIALIZED');
  });
});

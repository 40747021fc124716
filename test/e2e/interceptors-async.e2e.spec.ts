import { Injectable, Module, type Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeModule,
  InvalidInterceptorError,
  UseWorkflowInterceptors,
  type WorkflowInterceptorClass,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { AuditInterceptor, InterceptorJournal } from '../fixtures/interceptors.fixture.js';
import { testModuleOptions } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';

@Injectable()
class AsyncFlows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('icpt.async')
  async run(): Promise<string> {
    return this.ctx.step('one', () => 'one');
  }
}

/**
 * Interceptors given by forRootAsync's factory, resolved and checked as forRoot's are, and the
 * bootstrap checks of @UseWorkflowInterceptors().
 */
describe('workflow interceptors with forRootAsync (e2e)', () => {
  const schema = uniqueName('cf_icpt_async');
  const queueName = uniqueName('q_icpt_async');
  afterAll(() => cleanup(schema, queueName));

  const boot = async (interceptors: WorkflowInterceptorClass[], extra: Provider[] = []) => {
    @Module({
      imports: [
        ChronoForgeModule.forRootAsync({
          useFactory: async () => ({ ...testModuleOptions({ schema, queueName }), interceptors }),
        }),
      ],
      providers: [InterceptorJournal, AuditInterceptor, AsyncFlows, ...extra],
    })
    class AsyncModule {}
    const app = await Test.createTestingModule({ imports: [AsyncModule] }).compile();
    await app.init();
    return app;
  };

  it('should wrap passes and steps with the interceptors the factory returns', async () => {
    const app = await boot([AuditInterceptor]);
    try {
      const handle = await app.get(WorkflowClient).start('icpt.async', { key: 'async' });
      await expect(handle.result({ timeout: '10s' })).resolves.toBe('one');
      expect(app.get(InterceptorJournal).of('async')).toEqual([
        'audit>pass#1',
        'audit>step:step$one#1',
        '<audit step$one',
        '<audit pass:completed',
      ]);
    } finally {
      await app.close();
    }
  });

  it('should refuse to boot with @UseWorkflowInterceptors() on a method that is no workflow', async () => {
    @Injectable()
    class Misplaced {
      @UseWorkflowInterceptors(AuditInterceptor)
      async helper(): Promise<void> {}
    }
    const err = await boot([], [Misplaced]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(InvalidInterceptorError);
    expect((err as Error).message).toContain('on Misplaced#helper needs @Workflow()');
  });

  it('should refuse to boot when the factory returns something that is not an interceptor class', async () => {
    const notAClass = { interceptStep: () => undefined } as unknown as WorkflowInterceptorClass;
    await expect(boot([notAClass])).rejects.toThrow(InvalidInterceptorError);
  });
});

import { Injectable, Module, type Provider, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeModule,
  DurableStep,
  InvalidInterceptorError,
  type StepInvocation,
  UseWorkflowInterceptors,
  type WorkflowInterceptor,
  type WorkflowInterceptorClass,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { InterceptorJournal } from '../fixtures/interceptors.fixture.js';
import { testModuleOptions } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';

@Injectable()
class BootFlows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('icptrev.boot')
  async run(): Promise<string> {
    return this.ctx.step('one', () => 'one');
  }
}

/** Request-scoped (no request exists in a worker's pass). */
@Injectable({ scope: Scope.REQUEST })
class RequestThing {}

/** Default scope, but request-scoped through its dependency. */
@Injectable()
class DependsOnRequest implements WorkflowInterceptor {
  constructor(readonly thing: RequestThing) {}

  async interceptStep(_: StepInvocation, next: () => Promise<unknown>): Promise<unknown> {
    return next();
  }
}

/** Transient, registered in the app's module next to its dependency (the journal). */
@Injectable({ scope: Scope.TRANSIENT })
class TransientJournaling implements WorkflowInterceptor {
  constructor(private readonly journal: InterceptorJournal) {}

  async interceptStep(step: StepInvocation, next: () => Promise<unknown>): Promise<unknown> {
    this.journal.add(step.key, `transient ${step.step}`);
    return next();
  }
}

/** The class decorator on a provider of durable steps only: it wraps no workflow. */
@UseWorkflowInterceptors(TransientJournaling)
@Injectable()
class StepsOnly {
  @DurableStep('icptrev.stepsOnly')
  async issue(): Promise<string> {
    return 'issued';
  }
}

/** Bootstrap checks of interceptors the review found missing or misleading. */
describe('workflow interceptors: scoped providers at bootstrap (e2e)', () => {
  const schema = uniqueName('cf_icptrev_boot');
  const queueName = uniqueName('q_icptrev_boot');
  afterAll(() => cleanup(schema, queueName));

  const boot = async (interceptors: WorkflowInterceptorClass[], extra: Provider[] = []) => {
    @Module({
      imports: [
        ChronoForgeModule.forRoot({ ...testModuleOptions({ schema, queueName }), interceptors }),
      ],
      providers: [BootFlows, InterceptorJournal, ...extra],
    })
    class BootModule {}
    const app = await Test.createTestingModule({ imports: [BootModule] }).compile();
    await app.init();
    return app;
  };

  it('should refuse a provider that is request-scoped through a dependency, saying so', async () => {
    const booted = await boot([DependsOnRequest], [DependsOnRequest, RequestThing]).catch(
      (e: Error) => e,
    );
    if (!(booted instanceof Error)) await booted.close();
    expect(booted).toBeInstanceOf(InvalidInterceptorError);
    expect((booted as Error).message).toContain('DependsOnRequest is request-scoped');
  });

  it('should resolve a transient interceptor in the module that registers it', async () => {
    const app = await boot([TransientJournaling], [TransientJournaling]);
    try {
      const handle = await app.get(WorkflowClient).start('icptrev.boot', { key: 'transient' });
      await expect(handle.result({ timeout: '10s' })).resolves.toBe('one');
      expect(app.get(InterceptorJournal).of('transient')).toEqual(['transient step$one']);
    } finally {
      await app.close();
    }
  });

  it('should refuse to boot with @UseWorkflowInterceptors() on a class that has no workflow', async () => {
    const booted = await boot([], [StepsOnly, TransientJournaling]).catch((e: Error) => e);
    if (!(booted instanceof Error)) await booted.close();
    expect(booted).toBeInstanceOf(InvalidInterceptorError);
    expect((booted as Error).message).toContain('on StepsOnly wraps no workflow');
  });
});

import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import {
  InterceptorNextError,
  InvalidInterceptorError,
  type StepInvocation,
  UseWorkflowInterceptors,
  type WorkflowInterceptor,
  type WorkflowInterceptorClass,
} from '../../lib/index.js';
import type { WorkflowDefinition } from '../../lib/definitions/workflow.registry.js';
import { type ChainLink, runChain } from '../../lib/interceptors/interceptor-chain.js';
import { WorkflowInterceptors } from '../../lib/interceptors/workflow-interceptors.js';
import { AbortWatcher } from '../../lib/lifecycle/abort-watcher.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../../lib/options/chrono-forge.constants.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';
import { base, loose } from './resolve-options-fixtures.js';

/** What `fn` threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

@Injectable()
class StepLogger implements WorkflowInterceptor {
  async interceptStep(_: StepInvocation, next: () => Promise<unknown>): Promise<unknown> {
    return next();
  }
}

class NoMethods {
  hello(): string {
    return 'hi';
  }
}

describe('workflow interceptor validation at bootstrap', () => {
  it.each([
    ['not an array', StepLogger, /must be an array of interceptor classes/],
    ['an instance', [new StepLogger()], /\[0\] is not a class .*pass the class itself/],
    ['an arrow function', [() => StepLogger], /\[0\] is not a class/],
    ['a class without methods', [NoMethods], /\[0\] \(NoMethods\) has neither interceptPass/],
  ])('should refuse forRoot({ interceptors }) given %s', (_, interceptors, message) => {
    const err = thrown(() => resolveOptions(loose({ interceptors })));
    expect(err).toBeInstanceOf(InvalidInterceptorError);
    expect((err as InvalidInterceptorError).code).toBe('CHRONOFORGE_INVALID_INTERCEPTOR');
    expect((err as Error).message).toMatch(message);
  });

  it('should keep the classes of forRoot({ interceptors }) in order, none by default', () => {
    expect(resolveOptions(base()).interceptors).toEqual([]);
    class PassOnly implements WorkflowInterceptor {
      async interceptPass(_: unknown, next: () => Promise<unknown>) {
        return next();
      }
    }
    const resolved = resolveOptions({ ...base(), interceptors: [PassOnly, StepLogger] });
    expect(resolved.interceptors).toEqual([PassOnly, StepLogger]);
  });

  it('should refuse @UseWorkflowInterceptors() given something that is not an interceptor class', () => {
    const err = thrown(() => UseWorkflowInterceptors(NoMethods as WorkflowInterceptorClass));
    expect(err).toBeInstanceOf(InvalidInterceptorError);
    expect((err as Error).message).toMatch(/@UseWorkflowInterceptors\(\)\[0\] \(NoMethods\)/);
    const instance = new StepLogger() as unknown as WorkflowInterceptorClass;
    expect(thrown(() => UseWorkflowInterceptors(StepLogger, instance))).toBeInstanceOf(
      InvalidInterceptorError,
    );
  });
});

@Injectable()
class Greeting {
  readonly text = 'hello';
}

@Injectable()
class NeedsGreeting implements WorkflowInterceptor {
  constructor(readonly greeting: Greeting) {}
  async interceptStep(_: StepInvocation, next: () => Promise<unknown>): Promise<unknown> {
    return next();
  }
}

@Injectable()
class Unresolvable implements WorkflowInterceptor {
  constructor(readonly missing: Greeting) {}
  async interceptStep(_: StepInvocation, next: () => Promise<unknown>): Promise<unknown> {
    return next();
  }
}

/** A module holding `Greeting`, so `NeedsGreeting` is found with `strict: false`. */
@Module({ providers: [Greeting, NeedsGreeting], exports: [] })
class GreetingModule {}

const workflow = (name: string, interceptors?: WorkflowInterceptorClass[]) =>
  ({ name, interceptors }) as WorkflowDefinition;

async function interceptorsWith(global: WorkflowInterceptorClass[], extra: object[] = []) {
  const moduleRef = await Test.createTestingModule({
    imports: [GreetingModule],
    providers: [
      WorkflowInterceptors,
      { provide: CHRONO_FORGE_RESOLVED_OPTIONS, useValue: { interceptors: global } },
      // resolve() never watches a pass: the watcher (which needs the database) is not used here.
      { provide: AbortWatcher, useValue: {} },
      ...(extra as never[]),
    ],
  }).compile();
  return { moduleRef, interceptors: moduleRef.get(WorkflowInterceptors) };
}

describe('WorkflowInterceptors.resolve()', () => {
  it('should take a registered provider from any module (strict: false)', async () => {
    const { moduleRef, interceptors } = await interceptorsWith([NeedsGreeting]);
    await interceptors.resolve([workflow('w')]);
    const links = (interceptors as unknown as { stepChains: Map<string, ChainLink[]> }).stepChains;
    expect(links.get('w')?.[0].interceptor).toBe(moduleRef.get(NeedsGreeting, { strict: false }));
  });

  it('should create an unregistered class, or fail naming it when its dependencies are missing', async () => {
    const { interceptors } = await interceptorsWith([StepLogger]);
    await expect(interceptors.resolve([workflow('w', [Unresolvable])])).rejects.toThrow(
      InvalidInterceptorError,
    );
    await expect(interceptors.resolve([workflow('w', [Unresolvable])])).rejects.toThrow(
      /Workflow interceptor Unresolvable could not be created [\s\S]*Register it as a provider/,
    );
    await interceptors.resolve([workflow('ok')]);
    const links = (interceptors as unknown as { stepChains: Map<string, ChainLink[]> }).stepChains;
    expect(links.get('ok')?.[0].interceptor).toBeInstanceOf(StepLogger);
  });

  it('should refuse a provider registered under the class that has no interceptor method', async () => {
    const { interceptors } = await interceptorsWith(
      [],
      [{ provide: StepLogger, useValue: { not: 'an interceptor' } }],
    );
    await expect(interceptors.resolve([workflow('w', [StepLogger])])).rejects.toThrow(
      /registered as StepLogger has neither interceptPass\(\) nor interceptStep\(\)/,
    );
  });
});

describe('runChain()', () => {
  const link = (name: string, log: string[], body?: (next: () => Promise<unknown>) => unknown) => ({
    name,
    interceptor: {
      async interceptStep(_: unknown, next: () => Promise<unknown>) {
        log.push(`${name}>`);
        const value = body ? await body(next) : await next();
        log.push(`<${name}`);
        return value;
      },
    },
  });

  it('should run the links outermost first around the work', async () => {
    const log: string[] = [];
    const run = { misuse: undefined };
    const links = [link('a', log), link('b', log)];
    await runChain(links, 'interceptStep', {}, async () => log.push('work'), run);
    expect(log).toEqual(['a>', 'b>', 'work', '<b', '<a']);
    expect(run.misuse).toBeUndefined();
  });

  it('should refuse a second next() without running the work again, even when swallowed', async () => {
    const log: string[] = [];
    const run: { misuse: InterceptorNextError | undefined } = { misuse: undefined };
    const twice = link('twice', log, async (next) => {
      await next();
      await next().catch(() => undefined);
    });
    await runChain([twice], 'interceptStep', {}, async () => log.push('work'), run);
    expect(log).toEqual(['twice>', 'work', '<twice']);
    expect(run.misuse).toBeInstanceOf(InterceptorNextError);
    expect(run.misuse?.message).toMatch(/twice\.interceptStep\(\) called next\(\) more than once/);
  });

  it('should refuse a next() called after the link threw, so the work never starts late', async () => {
    const log: string[] = [];
    const run: { misuse: InterceptorNextError | undefined } = { misuse: undefined };
    let late: () => Promise<unknown> = () => Promise.resolve();
    const thrower = {
      name: 'thrower',
      interceptor: {
        async interceptStep(_: unknown, next: () => Promise<unknown>) {
          late = next;
          throw new Error('refused');
        },
      },
    };
    await expect(
      runChain([thrower], 'interceptStep', {}, async () => log.push('work'), run),
    ).rejects.toThrow('refused');
    await expect(late()).rejects.toThrow(InterceptorNextError);
    expect(log).toEqual([]);
  });

  it('should fail a link that returns without calling next()', async () => {
    const log: string[] = [];
    const run = { misuse: undefined };
    const never = link('never', log, () => 'cached');
    await expect(
      runChain([never], 'interceptStep', {}, async () => log.push('work'), run),
    ).rejects.toThrow(/never\.interceptStep\(\) returned without calling next\(\)/);
    expect(log).toEqual(['never>', '<never']);
  });
});

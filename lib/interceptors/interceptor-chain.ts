import { InterceptorNextError } from '../errors/interceptor-next.error.js';
import type { WorkflowInterceptor } from '../options/workflow-interceptor.interface.js';

/** The interceptor methods a chain runs. */
export type InterceptorMethod = 'interceptPass' | 'interceptStep';

/** One interceptor of a chain and the name its errors give it. */
export interface ChainLink {
  readonly interceptor: WorkflowInterceptor;
  readonly name: string;
}

/** What a chain's run found out besides its own outcome. */
export interface ChainRun {
  /** Set when an interceptor called `next()` twice or not at all (sticky: even when swallowed). */
  misuse: InterceptorNextError | undefined;
}

/**
 * Runs `last` inside `links`' `method` (the first link outermost). Each `next()` may be called
 * once, before the chain settled: a second or late call rejects with `InterceptorNextError` and
 * never runs the inner work (again); a link that returns without calling it fails the chain with
 * that error. The chain settles as the outermost link does. What the links return is ignored:
 * each `next()` resolves with `last`'s value, and the caller keeps `last`'s outcome.
 */
export async function runChain<I>(
  links: readonly ChainLink[],
  method: InterceptorMethod,
  invocation: I,
  last: () => Promise<unknown>,
  run: ChainRun,
): Promise<void> {
  let value: unknown;
  let ended = false;
  const dispatch = async (i: number): Promise<unknown> => {
    if (i === links.length) return (value = await last());
    const { interceptor, name } = links[i];
    let called = false;
    const next = (): Promise<unknown> => {
      // NOTE: a late call (after the chain settled) must not start the work beside its retry.
      if (called || ended) {
        run.misuse ??= InterceptorNextError.twice(name, method);
        return Promise.reject(run.misuse);
      }
      called = true;
      return dispatch(i + 1);
    };
    const intercept = interceptor[method] as (i: I, next: () => Promise<unknown>) => unknown;
    await intercept.call(interceptor, invocation, next);
    if (!called) {
      run.misuse ??= InterceptorNextError.never(name, method);
      throw run.misuse;
    }
    // Every next() resolves with the work's own value, whatever an inner link returned.
    return value;
  };
  try {
    await dispatch(0);
  } finally {
    ended = true;
  }
}

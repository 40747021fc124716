import type { Type } from '@nestjs/common';
import type { PassOutcome } from '../observability/chrono-forge-metrics.js';

/**
 * The run a pass or a step attempt belongs to, as an interceptor sees it.
 *
 * @publicApi
 */
export interface RunInvocation {
  /** The workflow's persisted name (`@Workflow('orders.fulfil')`). */
  readonly workflow: string;
  /** The run's key (`client.start(…, { key })`). */
  readonly key: string;
  /** The run's id. */
  readonly runId: string;
  /**
   * The run's input as stored (plain JSON, before any `input` DTO is applied): the interceptor's
   * own copy, so mutating it never changes what the workflow method receives.
   */
  readonly input: unknown;
}

/**
 * One pass of a run: the replay of its workflow method from the top, up to the statement that
 * records how the pass ended.
 *
 * @publicApi
 */
export interface PassInvocation extends RunInvocation {
  /** 1-based attempt of the workflow as a whole (`ctx.attempt`): grows when a failed pass is retried. */
  readonly attempt: number;
}

/**
 * What a step attempt runs: a durable step's body (`@DurableStep`, `ctx.step`, `ctx.transaction`),
 * a compensation of a rollback, the `@OnCancel()` cleanup, or a `@Repeat()` tick.
 *
 * @publicApi
 */
export type StepKind = 'step' | 'compensation' | 'onCancel' | 'repeat';

/**
 * One executed attempt of a durable step. Replayed steps (already recorded) are not attempts: an
 * interceptor never sees them.
 *
 * @publicApi
 */
export interface StepInvocation extends RunInvocation {
  /**
   * The step log's name: `step$charge`, `step$charge#2`, `$compensate$step$charge`, `$oncancel$`,
   * `durably_repeat$remind$<scheduled epoch ms>`.
   */
  readonly step: string;
  readonly kind: StepKind;
  /** 1-based attempt of this step (its retries count up from it). */
  readonly attempt: number;
}

/**
 * A workflow interceptor (ruby_reactor's middleware, in Nest's interceptor idiom): a class,
 * resolved through dependency injection, that wraps each pass of a run and each executed step
 * attempt — for logging, tenancy or CLS context propagation, custom metrics. Register it for
 * every workflow with `ChronoForgeModule.forRoot({ interceptors: [...] })`, or for some with
 * `@UseWorkflowInterceptors(...)`. Implement one method or both.
 *
 * Each method must call `next()` exactly once (`InterceptorNextError` otherwise) and should
 * return what it gives. Interceptors observe, they do not rewrite: the step's recorded result is
 * what its body returned, and a failure of the body fails the attempt even when an interceptor
 * swallowed it. Throwing (before or after `next()`) fails the step attempt, which is retried
 * like a failure of its body. See the README's "Interceptors" section for the order and the
 * rules of a pass.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class TimingInterceptor implements WorkflowInterceptor {
 *   private readonly logger = new Logger('Steps');
 *
 *   async interceptStep(step: StepInvocation, next: () => Promise<unknown>): Promise<unknown> {
 *     const started = performance.now();
 *     try {
 *       return await next();
 *     } finally {
 *       this.logger.log(`${step.workflow} ${step.step} #${step.attempt}: ${performance.now() - started} ms`);
 *     }
 *   }
 * }
 * ```
 * @publicApi
 */
export interface WorkflowInterceptor {
  /**
   * Wraps one pass of a run of a workflow. `next()` replays the workflow method and records the
   * pass's end; it resolves with how the pass ended (`'lock_lost'` also for a pass that ended
   * without recording anything, such as a crash the testing kit simulated). Throwing before
   * `next()` fails the pass as if the workflow method had thrown that error (the workflow's retry
   * policy, then `failed`); once `next()` was called, the pass runs to its end and is recorded,
   * and a throw is only logged. Rollback passes (compensations) are not wrapped: their step
   * attempts are.
   */
  interceptPass?(pass: PassInvocation, next: () => Promise<PassOutcome>): Promise<unknown>;
  /**
   * Wraps one executed attempt of a durable step, a compensation, the `@OnCancel()` cleanup or a
   * `@Repeat()` tick, inside the step's `timeout` and transaction (`ctx.manager` works). `next()` runs the body and
   * resolves with its result. Durable calls (`ctx.sleep`, other steps) are refused here, as in a
   * step body.
   */
  interceptStep?(step: StepInvocation, next: () => Promise<unknown>): Promise<unknown>;
}

/**
 * A workflow interceptor class, as `forRoot({ interceptors })` and `@UseWorkflowInterceptors()`
 * take it: found among the application's providers (`moduleRef.get(type, { strict: false })`), or
 * else created with its dependencies injected (`moduleRef.create(type)`).
 *
 * @publicApi
 */
export type WorkflowInterceptorClass = Type<WorkflowInterceptor>;

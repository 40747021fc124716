import { isTransientDatabaseError } from '../database/transient-error.js';
import { ResultTimeoutError } from '../errors/result-timeout.error.js';
import { WorkflowFailedError } from '../errors/workflow-failed.error.js';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import { type Duration, toMs } from '../util/duration.util.js';
import { deserializeValue, type StoredValue } from '../util/serialization.util.js';
import type { CancelOptions } from '../sagas/cancel-options.interface.js';
import type { RunQueries } from './run-queries.js';

/**
 * What a {@link WorkflowHandle} asks of the client that made it; `WorkflowClient` is one.
 *
 * @publicApi
 */
export interface WorkflowHandleSource {
  /** State, stored result and last error of run `id`. */
  fetchOutcome(id: string): ReturnType<RunQueries['outcome']>;
  /** Cancels run `key` of workflow `options.workflow`, with an optional reason (see `CancelOptions`). */
  cancel(key: string, options: CancelOptions): Promise<void>;
}

/** States in which a run ended without a result. */
const TERMINAL_FAILURES: ReadonlySet<WorkflowState> = new Set([
  'failed',
  'stalled',
  'cancelled',
  'compensated',
]);

/** Longest wait between two polls that found the run unfinished. */
const POLL_MAX_MS = 500;
/** Longest wait between two polls after a transient database fault. */
const FAULT_MAX_MS = 2_000;

/**
 * A reference to one run, returned by `WorkflowClient.start()`.
 *
 * @publicApi
 */
export class WorkflowHandle<R = unknown> {
  constructor(
    private readonly client: WorkflowHandleSource,
    /** The run's database id. */
    readonly id: string,
    /** The workflow name. */
    readonly workflow: string,
    /** The run's key. */
    readonly key: string,
  ) {}

  /** The run's current state. */
  async status(): Promise<WorkflowState> {
    return (await this.client.fetchOutcome(this.id)).state;
  }

  /**
   * Waits until the run is terminal and returns its result; throws `WorkflowFailedError` when it
   * ends `failed`, `stalled`, `cancelled` or `compensated`, and `ResultTimeoutError` after
   * `timeout` (a run that is `compensating` is not terminal yet). A transient PostgreSQL fault
   * while polling (a refused connection — 53300 too_many_connections —, a terminated or reset
   * one — 57P01, 57P03, 08xxx, ECONNRESET) is not the run's outcome: the poll is tried again with
   * backoff until `timeout`, after which the `ResultTimeoutError` carries the last fault as its
   * `cause`. Other errors (the run was deleted: `WorkflowNotFoundError`) are thrown at once.
   */
  async result(options: { timeout?: Duration } = {}): Promise<R> {
    const timeoutMs = toMs(options.timeout ?? '60s', 'result timeout');
    const deadline = Date.now() + timeoutMs;
    let delay = 20;
    for (;;) {
      const outcome = await this.poll(deadline, timeoutMs);
      if (outcome?.state === 'completed') return deserializeValue<R>(outcome.result as StoredValue);
      if (outcome && TERMINAL_FAILURES.has(outcome.state)) {
        throw new WorkflowFailedError(this.key, outcome.state, outcome.lastError ?? undefined);
      }
      if (outcome && Date.now() >= deadline) {
        throw new ResultTimeoutError(
          `Run "${this.key}" is still ${outcome.state} after ${timeoutMs} ms.`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, deadline - Date.now()))));
      // NOTE: a fault backs off further (to 2 s) than a poll that found the run unfinished.
      delay = Math.min(delay * 2, outcome ? POLL_MAX_MS : FAULT_MAX_MS);
    }
  }

  /**
   * One read of the run's outcome: `undefined` after a transient database fault, which becomes a
   * `ResultTimeoutError` (its `cause`) once the deadline passed.
   */
  private async poll(
    deadline: number,
    timeoutMs: number,
  ): Promise<Awaited<ReturnType<WorkflowHandleSource['fetchOutcome']>> | undefined> {
    try {
      return await this.client.fetchOutcome(this.id);
    } catch (err) {
      if (!isTransientDatabaseError(err)) throw err;
      if (Date.now() < deadline) return undefined;
      throw new ResultTimeoutError(
        `Run "${this.key}" could not be read for ${timeoutMs} ms: PostgreSQL kept failing (${(err as Error).message}).`,
        { cause: err },
      );
    }
  }

  /** Cancels the run (see `WorkflowClient.cancel`). */
  async cancel(options: Omit<CancelOptions, 'workflow'> = {}): Promise<void> {
    await this.client.cancel(this.key, { ...options, workflow: this.workflow });
  }
}

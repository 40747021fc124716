import type { EntityManager, QueryRunner } from 'typeorm';
import { assertSelector } from '../definitions/client-arguments.js';
import { MAX_INPUT_BYTES } from '../definitions/input-validation.js';
import { checkSignalPayload } from '../definitions/signal-payloads.js';
import type { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { InvalidTransitionError } from '../errors/invalid-transition.error.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import { notifySql, wakePayload } from '../queue/wake-listener.js';
import type { WorkflowQueue } from '../queue/workflow.queue.js';
import type { TimerStore } from '../timers/timer.store.js';
import { assertUserName } from '../util/names.util.js';
import { jsonByteSize, serializeValue } from '../util/serialization.util.js';
import type { RunQueries } from './run-queries.js';
import type { RunSelector } from './start-options.js';
import { transactionRunner } from './transaction-runner.js';

/** Queues a wake-up that PostgreSQL delivers to the workers only if the transaction commits. */
export async function notifyOnCommit(
  store: WorkflowStore,
  runner: QueryRunner,
  id: string,
): Promise<void> {
  await runner.query(notifySql('$1'), [wakePayload(store.schema, id)]);
}

/** `client.signal`: checks, stores and wakes (see `WorkflowClient.signal`). */
export class SignalSender {
  constructor(
    private readonly store: WorkflowStore,
    private readonly queue: WorkflowQueue,
    private readonly registry: WorkflowRegistry,
    private readonly timers: TimerStore,
    private readonly runs: RunQueries,
  ) {}

  async send(
    key: string,
    name: string,
    payload: unknown,
    selector: RunSelector & { manager?: EntityManager },
  ): Promise<void> {
    assertSelector(selector, 'signal');
    assertUserName(name, 'Signal');
    const stored = serializeValue(payload ?? null, 'signal payload');
    const size = jsonByteSize(stored, 'signal payload');
    if (size > MAX_INPUT_BYTES) {
      throw new InvalidOptionsError(
        `Signal payload is ${size} bytes; the limit is ${MAX_INPUT_BYTES}.`,
      );
    }
    const runner = transactionRunner(selector.manager, 'signal');
    const row = await this.runs.find(key, selector.workflow, runner);
    // Before anything is stored: a payload its declared DTO refuses never reaches the run.
    await checkSignalPayload(this.registry.get(row.job_name), name, payload ?? null);
    const woken = await this.timers.insertSignal(row.id, name, stored, runner);
    if (!woken) {
      const { state } = await this.runs.outcome(row.id, runner);
      throw new InvalidTransitionError(key, state, 'signal', ['idle', 'running', 'stalled']);
    }
    if (woken.state === 'idle' && runner) await notifyOnCommit(this.store, runner, row.id);
    else if (woken.state === 'idle') await this.queue.enqueueRun(row.id, woken.next_run_at);
  }
}

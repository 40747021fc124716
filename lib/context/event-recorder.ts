import { Injectable } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { RunScope } from '../run/run-scope.js';
import { assertUserName } from '../util/names.util.js';
import { jsonByteSize, serializeValue } from '../util/serialization.util.js';

/** Largest encoded value of one event (`ctx.setEvent`). */
export const MAX_EVENT_BYTES = 64 * 1024;

/** Step-log prefix of an event: `event$<name>` (`#<n>` for its n-th set in a run). */
export const EVENT_PREFIX = 'event$';

/**
 * `ctx.setEvent`: records an event as a born-completed step log `event$<name>` at its position in
 * the run's history, fenced by the pass's lock like every write of the pass (with the durable
 * state changed before it). Replays find it recorded and write nothing.
 */
@Injectable()
export class EventRecorder {
  constructor(private readonly store: WorkflowStore) {}

  set(scope: RunScope, name: string, value: unknown): Promise<void> {
    assertUserName(name, 'Event');
    // Checked before the call takes a position: an unstorable value is a bug, not a replay fork.
    const result = serializeValue(value === undefined ? null : value, `event "${name}"`);
    const size = jsonByteSize(result, `event "${name}"`);
    if (size > MAX_EVENT_BYTES) {
      throw new InvalidOptionsError(
        `Event "${name}" is ${size} bytes encoded; the limit is ${MAX_EVENT_BYTES}.`,
      );
    }
    const step = scope.nextStepName(`${EVENT_PREFIX}${name}`);
    return scope.track(async () => {
      const existing = scope.logs.get(step);
      if (existing?.state === 'completed') return scope.replayTurn(existing.id);
      scope.assertCanWork();
      const metadata = { event: name };
      const id = await this.store.completeStep(
        scope.run.id,
        scope.owner,
        step,
        1,
        result,
        metadata,
        new Date(),
        undefined,
        existing === undefined,
        scope,
      );
      if (id === null) scope.lockLost();
      scope.logs.set(step, {
        id,
        step_name: step,
        state: 'completed',
        attempts: 1,
        result,
        metadata,
      });
    });
  }
}

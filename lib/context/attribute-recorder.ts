import { Injectable } from '@nestjs/common';
import {
  type AttributeChange,
  checkAttributes,
  MAX_ATTRIBUTES,
  type SearchAttributesUpdate,
} from '../definitions/search-attributes.js';
import { SearchAttributeError } from '../errors/search-attribute.error.js';
import {
  type AttributeLog,
  AttributeStore,
  type AttributeWrite,
} from '../persistence/attribute.store.js';
import { stepStorage, transactionStorage } from '../run/call-storage.js';
import { engineStatementErrors } from '../database/engine-statement.js';
import type { RunScope } from '../run/run-scope.js';
import { crashPoint } from '../steps/fault-injector.js';
import { serializeValue } from '../util/serialization.util.js';

/** Step-log name of `ctx.setAttributes` in a workflow body (`#<n>` for its n-th call in a run). */
export const ATTRIBUTES_STEP = 'attributes$set';

/**
 * `ctx.setAttributes`. From the workflow body it is a durable call: the attributes change and its
 * born-completed step log `attributes$set` are written in one statement fenced by the pass's lock
 * (with the durable state changed before it), so a replay finds the call recorded and writes
 * nothing. A call refused by the run's key limit is recorded as refused: its replays are too. From a step body (or a wait check) the change is written at once, fenced the same way
 * and without a log: it belongs to the step, whose body runs again only if it did not complete,
 * and setting the same attributes again changes nothing. A failed statement ends the pass as an
 * engine fault (the step does not complete, even when its body caught the failure).
 */
@Injectable()
export class AttributeRecorder {
  constructor(private readonly store: AttributeStore) {}

  set(scope: RunScope, update: SearchAttributesUpdate): Promise<void> {
    // Checked before the call takes a position: a refused update is a bug, not a replay fork.
    const change = checkAttributes(update, 'setAttributes()', true);
    // Its write would wait for a second pooled connection while the step's transaction holds one
    // (with every connection held, for ever), and would outlive the transaction's rollback.
    if (transactionStorage.getStore() !== undefined)
      throw new SearchAttributeError(
        'setAttributes() cannot be called in a transactional step; call it from the workflow body after the step, or from a step that is not transactional.',
      );
    if (stepStorage.getStore() !== undefined) return this.inStep(scope, change);
    const step = scope.nextStepName(ATTRIBUTES_STEP);
    return scope.track(async () => {
      const existing = scope.logs.get(step);
      if (existing?.state === 'completed') {
        await scope.replayTurn(existing.id);
        if (existing.metadata.refused === 'full') throw this.full(scope);
        return;
      }
      scope.assertCanWork();
      const result = serializeValue(change, 'attributes');
      const metadata = { attributes: Object.keys(change.set), removed: change.remove };
      crashPoint(scope, step, 'before');
      const log = { stepName: step, result: JSON.stringify(result), metadata, carrier: scope };
      const outcome = await this.write(scope, change, log);
      if (outcome.kind === 'lost') return scope.lockLost();
      crashPoint(scope, step, 'after');
      const recorded = outcome.kind === 'full' ? { ...metadata, refused: 'full' } : metadata;
      scope.logs.set(step, {
        id: outcome.logId ?? '',
        step_name: step,
        state: 'completed',
        attempts: 1,
        result,
        metadata: recorded,
      });
      if (outcome.kind === 'full') throw this.full(scope);
    });
  }

  private async inStep(scope: RunScope, change: AttributeChange): Promise<void> {
    scope.assertOwned();
    let outcome: AttributeWrite;
    try {
      outcome = await this.write(scope, change);
    } catch (err) {
      // A failed statement is the pass's fault, not the step's: the step must not complete
      // without its attributes because the body caught the failure.
      if (typeof err === 'object' && err !== null && engineStatementErrors.has(err))
        throw scope.markFaulted(err);
      throw err;
    }
    if (outcome.kind === 'lost') scope.lockLost();
    if (outcome.kind === 'full') throw this.full(scope);
  }

  private write(
    scope: RunScope,
    change: AttributeChange,
    log?: AttributeLog,
  ): Promise<AttributeWrite> {
    const { set, remove } = change;
    return this.store.write(scope.run.id, scope.owner, set, remove, MAX_ATTRIBUTES, log);
  }

  /** The refusal of an update past the run's key limit. */
  private full(scope: RunScope): SearchAttributeError {
    return new SearchAttributeError(
      `Run ${scope.run.id} ("${scope.run.key}") would hold more than ${MAX_ATTRIBUTES} attributes; remove some (set them to null) first.`,
    );
  }
}

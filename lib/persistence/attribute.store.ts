import { Injectable } from '@nestjs/common';
import type { SearchAttributes } from '../definitions/search-attributes.js';
import type { StateCarrier } from './rows.js';
import { WorkflowStore } from './workflow.store.js';

/**
 * What an attribute write found: `written`, the run's key limit reached (`full`: nothing changed;
 * a body's call is recorded as refused all the same, so its replays are refused too), or the
 * pass's lock gone (`lost`: nothing written).
 */
export type AttributeWrite = { kind: 'written' | 'full'; logId: string | null } | { kind: 'lost' };

/** A fenced attribute write: the step log to record with it (a body's call), or none (a step body's). */
export interface AttributeLog {
  stepName: string;
  result: string;
  metadata: Record<string, unknown>;
  carrier: StateCarrier;
}

/**
 * The writes of search attributes (`chrono_forge_workflows.attributes`): one statement that takes
 * the run's row if the pass (`$2`) still owns it, merges the set entries and drops the removed
 * keys (refused past the run's key limit) and, for a call of the workflow body, records its
 * born-completed step log (marked `refused` when the limit refused it) with the durable state the
 * pass changed, as every checkpoint does.
 */
@Injectable()
export class AttributeStore {
  private readonly bodyWrite: string;
  private readonly stepWrite: string;

  constructor(private readonly store: WorkflowStore) {
    const { wf, logs } = store;
    const head = (state: string) => `WITH cur AS (
         SELECT id, (attributes || $3::jsonb) - $4::text[] AS next FROM ${wf}
         WHERE id = $1 AND locked_by = $2 FOR UPDATE),
       f AS (
         UPDATE ${wf} w SET attributes = cur.next, updated_at = now()${state} FROM cur
         WHERE w.id = cur.id AND (SELECT count(*) FROM jsonb_object_keys(cur.next)) <= $5
         RETURNING w.id)`;
    const tail = (id: string) =>
      `SELECT ${id} AS log_id, EXISTS (SELECT 1 FROM cur) AS owned, EXISTS (SELECT 1 FROM f) AS written`;
    this.stepWrite = `${head('')} ${tail('NULL::text')}`;
    this.bodyWrite = `${head(', context = COALESCE($9::jsonb, w.context)')},
       l AS (
         INSERT INTO ${logs} (workflow_id, step_name, state, attempts, started_at, last_executed_at,
           completed_at, result, metadata)
         SELECT cur.id, $6, 'completed', 1, now(), now(), now(), $7,
           CASE WHEN EXISTS (SELECT 1 FROM f) THEN $8::jsonb ELSE $8::jsonb || '{"refused": "full"}' END
         FROM cur RETURNING id::text)
       ${tail('(SELECT id FROM l)')}`;
  }

  /**
   * Merges `set` into run `runId`'s attributes and drops `remove`, fenced by the lock of pass
   * `owner`; with `log`, records the call's step log (and the carrier's state) in the same
   * statement. At most `max` keys may result.
   */
  async write(
    runId: string,
    owner: string,
    set: SearchAttributes,
    remove: string[],
    max: number,
    log?: AttributeLog,
  ): Promise<AttributeWrite> {
    const values: unknown[] = [runId, owner, JSON.stringify(set), remove, max];
    if (!log) return this.outcome(await this.store.query(this.stepWrite, values));
    const write = await this.store.claimWrite(log.carrier);
    values.push(log.stepName, log.result, JSON.stringify(log.metadata));
    values.push(write.claim ? JSON.stringify(write.claim.state) : null);
    let outcome: AttributeWrite = { kind: 'lost' };
    try {
      outcome = this.outcome(await write.query(this.bodyWrite, values));
    } finally {
      write.end(outcome.kind === 'written');
    }
    return outcome;
  }

  private outcome(rows: Array<Record<string, unknown>>): AttributeWrite {
    const [row] = rows as Array<{ log_id: string | null; owned: boolean; written: boolean }>;
    if (!row?.owned) return { kind: 'lost' };
    return { kind: row.written ? 'written' : 'full', logId: row.log_id };
  }
}

import type { WorkflowStore } from '../persistence/workflow.store.js';
import { type LimitStatements, SWEEP_BATCH } from './limit.sql.js';

/**
 * The limits' part of the recovery sweep (`LimitStore.sweep`). Keys are visited in (name, key)
 * order, SWEEP_BATCH per sweep, each sweep going on after the last key the previous one visited
 * and wrapping to the first keys: waiting is the normal state of a busy key, and a fixed first
 * batch would never reach a dead holder's key that sorts after SWEEP_BATCH keys with waiters. A
 * process starts at a random key, so restarts more frequent than one round do not keep every
 * process on the first batches.
 */
export class LimitSweep {
  /**
   * The last (name, key) the previous sweep visited; `['', '']`: start from the first; `null`:
   * no sweep yet (the first starts at a random key).
   */
  private sweptTo: [string, string] | null = null;

  constructor(
    private readonly store: WorkflowStore,
    private readonly sql: LimitStatements,
    private readonly reapSql: string,
  ) {}

  /** One sweep of the next batch of keys: dead slots deleted, waiters that fit woken. */
  async sweep(): Promise<{ reaped: number; woken: number }> {
    this.sweptTo ??= (
      await this.store.query<{ name: string; key: string }>(this.sql.sweepStart)
    ).map((r): [string, string] => [r.name, r.key])[0] ?? ['', ''];
    const { keys, next } = await this.sweepBatch(this.sweptTo);
    let reaped = 0;
    let woken = 0;
    for (const { name, key } of keys) {
      await this.store.transaction(async (client) => {
        await client.query(this.sql.lockKey, [name, key]);
        reaped += (await client.query(this.reapSql, [name, key])).rowCount ?? 0;
        const rows = await client.query<{ woken: number }>(this.sql.wakeKey, [name, key]);
        woken += rows.rows[0]?.woken ?? 0;
      });
    }
    this.sweptTo = next; // only once the batch went through: a failed sweep visits it again
    return { reaped, woken };
  }

  /**
   * The next SWEEP_BATCH keys after `after`, wrapping to the first keys within the batch when the
   * end comes first, and where the sweep after goes on.
   */
  private async sweepBatch(after: [string, string]) {
    type Key = { name: string; key: string };
    const batch = (from: [string, string]) => this.store.query<Key>(this.sql.sweepCandidates, from);
    const keys = await batch(after);
    let last: Key | undefined = keys[keys.length - 1];
    if (keys.length < SWEEP_BATCH && (after[0] !== '' || after[1] !== '')) {
      const seen = new Set(keys.map((k) => `${k.name}\u0000${k.key}`));
      const first = (await batch(['', ''])).filter((k) => !seen.has(`${k.name}\u0000${k.key}`));
      const room = SWEEP_BATCH - keys.length;
      keys.push(...first.slice(0, room));
      // Every key visited when the first ones fit in the room: the next sweep starts over.
      last = first.length > room ? first[room - 1] : undefined;
    } else if (keys.length < SWEEP_BATCH) last = undefined;
    const next: [string, string] = last ? [last.name, last.key] : ['', ''];
    return { keys, next };
  }
}

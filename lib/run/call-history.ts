import { NonDeterminismError } from '../errors/non-determinism.error.js';
import type { HistoryWrite, LogRow } from '../persistence/rows.js';
import {
  branchOf,
  callOf,
  type CallOrder,
  isRecorded,
  PATCH_PREFIX,
  withoutSealedBodies,
} from './history-entries.js';

export { PATCH_PREFIX, type CallOrder } from './history-entries.js';

/**
 * `step$charge#2` → `step "charge" (call #2)`, `branch$b>step$x` → `step "x" in branch "b"`: a
 * recorded call's name as people read it.
 */
export function describeCall(name: string): string {
  const branch = branchOf(name);
  if (branch !== undefined) return `${describeCall(callOf(name))} in ${describeCall(branch)}`;
  const at = name.indexOf('$');
  const kind = at < 0 ? 'call' : name.slice(0, at);
  const rest = at < 0 ? name : name.slice(at + 1);
  const hash = rest.lastIndexOf('#');
  const base = hash < 0 ? rest : rest.slice(0, hash);
  const nth = hash < 0 ? '' : ` (call #${rest.slice(hash + 1)})`;
  return `${kind} "${base}"${nth}`;
}

/** `claimed` values: the recorded call was made at its own position, or at another one. */
const HERE = 1;
const MOVED = 2;

/**
 * A run's history of durable calls by position, and this pass's calls checked against it. The
 * position of a call is the order in which the workflow code started it. The history is stored on
 * the run (`history`) by the statement that ends each pass and read by the one that takes the
 * lock: no statement per call. An entry is the call's step name (prefixed by its branch's inside a
 * branch body), a patch marker, or `null` (a call started there was never recorded, e.g. refused
 * after the pass halted).
 *
 * Each recorded call is claimed by at most one call of the pass. A `sequential` or `parallel` call
 * (see {@link CallOrder}) must claim the call recorded at its position. A `racing` call may claim
 * its own recorded call wherever it is (parallel results arrived in another order); the call it
 * displaced is then owed, and must be made before the next `sequential` call (or the run's end) —
 * a racing call the history never recorded (renamed, added) is caught there.
 */
export class CallHistory {
  /** This pass's calls, by position. */
  private readonly calls: string[] = [];
  private readonly patches = new Map<string, boolean>();
  /** The history as stored on the run; `null`: none stored. */
  private readonly stored: ReadonlyArray<string | null> | null;
  /** The stored history without sealed branch bodies; `null`: none stored. */
  private readonly recorded: ReadonlyArray<string | null> | null;
  /** Per recorded position: 0, or claimed by a call made `HERE` or `MOVED` elsewhere. */
  private readonly claimed: Uint8Array;
  /** Positions whose recorded call is still to be made after a racing call took the position. */
  private readonly owed = new Set<number>();
  /** Recorded positions by call (built at the first call that is not where the history has it). */
  private positions: Map<string, number[]> | undefined;
  /** The first racing call made where the history has another call, and recorded nowhere. */
  private stranger: string | undefined;
  /** A durable call settled since the last call started with none in flight. */
  private settledSinceSequential = false;

  constructor(
    stored: ReadonlyArray<string | null> | null,
    /** Whether the run has step logs recorded before histories existed (no positions known). */
    private readonly legacy: boolean,
    private readonly runLabel: string,
    logs: ReadonlyMap<string, LogRow> = new Map(),
  ) {
    this.stored = stored;
    this.recorded = stored && withoutSealedBodies(stored, logs);
    this.claimed = new Uint8Array(this.recorded?.length ?? 0);
  }

  /** A durable call of the pass settled. */
  settled(): void {
    this.settledSinceSequential = true;
  }

  /**
   * The {@link CallOrder} of a call started with `running` other calls in flight. Once the pass
   * halted, the calls still made come in the order of their refusals: racing.
   */
  orderOf(running: number, halted: boolean): CallOrder {
    if (halted) return 'racing';
    if (running > 0) return this.settledSinceSequential ? 'racing' : 'parallel';
    this.settledSinceSequential = false;
    return 'sequential';
  }

  /**
   * Enters durable call `name` at the next position; returns the divergence if it does not match
   * the history (see the class), or `undefined`.
   */
  enter(name: string, order: CallOrder): NonDeterminismError | undefined {
    const p = this.calls.push(name) - 1;
    const recorded = this.recorded;
    if (recorded === null) return undefined;
    if (recorded[p] === name && this.claimed[p] === 0) this.claimed[p] = HERE;
    else {
      const diverged = this.elsewhere(p, name, order);
      if (diverged) return diverged;
    }
    return order === 'sequential' ? this.firstOwed() : undefined;
  }

  /** A call that is not the one recorded at its position `p` (or that one was taken already). */
  private elsewhere(p: number, name: string, order: CallOrder): NonDeterminismError | undefined {
    const recorded = this.recorded ?? [];
    const there = p < recorded.length ? recorded[p] : null;
    const open = there !== null && this.claimed[p] === 0;
    const q = p < recorded.length ? this.unclaimed(name) : this.owedAt(name);
    if (q >= 0 && (!open || order === 'racing' || this.owed.has(q))) {
      this.claimed[q] = MOVED;
      this.owed.delete(q);
    } else if (open && order !== 'racing') {
      return this.divergence(p, there, name);
    } else if (there !== null) {
      this.stranger ??= name; // a call the history does not have, where it has another
    }
    if (open) this.owed.add(p);
    return undefined;
  }

  /**
   * Past the recorded calls, every recorded call not claimed yet is owed: the owed position of
   * `name`, or -1 (no index of a long history is built for a pass that only adds calls).
   */
  private owedAt(name: string): number {
    for (const q of this.owed) if (this.recorded?.[q] === name) return q;
    return -1;
  }

  /** The first recorded position of `name` that no call claimed yet, or -1. */
  private unclaimed(name: string): number {
    if (!this.positions) {
      this.positions = new Map();
      (this.recorded ?? []).forEach((entry, p) => {
        if (entry !== null) this.positions?.set(entry, [...(this.positions.get(entry) ?? []), p]);
      });
    }
    return this.positions.get(name)?.find((p) => this.claimed[p] === 0) ?? -1;
  }

  /** The divergence at the first owed position, if any. */
  private firstOwed(): NonDeterminismError | undefined {
    if (this.owed.size === 0) return undefined;
    const p = Math.min(...this.owed);
    return this.divergence(p, this.recorded?.[p] ?? '', this.stranger ?? this.calls[p] ?? null);
  }

  /** `ctx.patched(id)` (Temporal's semantics): see {@link WorkflowContext.patched}. */
  patched(id: string): boolean {
    const known = this.patches.get(id);
    if (known !== undefined) return known;
    const patched = this.takeMarker(id);
    this.patches.set(id, patched);
    return patched;
  }

  /** `ctx.deprecatePatch(id)`: takes the marker when the history has it (or records it when new). */
  deprecatePatch(id: string): void {
    if (this.patches.has(id)) return;
    this.takeMarker(id);
    this.patches.set(id, true);
  }

  /**
   * Takes patch `id`'s marker at the next position if the history has it there or ends before,
   * or has it (not taken yet) at another position: parallel calls' results may come back in
   * another order than in the pass that recorded it, which moves the positions after them.
   */
  private takeMarker(id: string): boolean {
    const marker = `${PATCH_PREFIX}${id}`;
    const position = this.calls.length;
    const history = this.recorded ?? [];
    const recorded = history[position];
    const fresh = !this.legacy && position >= history.length;
    if (recorded === marker) this.claimed[position] = HERE;
    else {
      const q = position < history.length ? this.unclaimed(marker) : this.owedAt(marker);
      if (q >= 0) {
        this.claimed[q] = MOVED;
        this.owed.delete(q);
        if (recorded != null && this.claimed[position] === 0) this.owed.add(position);
      } else if (!fresh) return false;
    }
    this.calls.push(marker);
    return true;
  }

  /**
   * A completed run that left recorded calls unmade (the code no longer makes them, or made
   * another call in their place): the divergence, or `undefined`.
   */
  unmade(): NonDeterminismError | undefined {
    const recorded = this.recorded ?? [];
    for (let p = 0; p < recorded.length; p++) {
      const name = recorded[p];
      if (name != null && this.claimed[p] === 0)
        return this.divergence(p, name, this.stranger ?? this.calls[p] ?? null);
    }
    return undefined;
  }

  /**
   * The history to store when the pass ends: this pass's recorded calls over the stored history
   * (its entries are kept where this pass did not record a call, unless their call was made at
   * another position). `null` when nothing changed; only the new entries when the pass only added
   * calls after the stored ones (no rewrite of a long history per pass).
   */
  toRecord(logs: ReadonlyMap<string, LogRow>): HistoryWrite | null {
    const next = this.nextHistory(logs);
    const stored = this.stored;
    if (next === null || stored === null || this.recorded !== stored) return next;
    if (next.length <= stored.length) return next;
    for (let p = 0; p < stored.length; p++) if (next[p] !== stored[p]) return next;
    return { at: stored.length, append: next.slice(stored.length) };
  }

  private nextHistory(logs: ReadonlyMap<string, LogRow>): Array<string | null> | null {
    const recorded = this.recorded ?? [];
    const length = Math.max(recorded.length, this.calls.length);
    const next: Array<string | null> = [];
    for (let p = 0; p < length; p++) {
      const call = this.calls[p];
      if (call !== undefined && isRecorded(call, logs)) next.push(call);
      else next.push(this.claimed[p] === MOVED ? null : (recorded[p] ?? null));
    }
    while (next.length > 0 && next[next.length - 1] === null) next.pop();
    if (this.recorded === null) return this.calls.length > 0 ? next : null;
    const same = next.length === recorded.length && next.every((e, p) => e === recorded[p]);
    return same ? null : next;
  }

  private divergence(p: number, recorded: string, called: string | null): NonDeterminismError {
    const made =
      called === null
        ? `the code completed without making it`
        : `the code now calls ${describeCall(called)} (${called}) there`;
    return new NonDeterminismError(
      `${this.runLabel} no longer matches its history: at position ${p} the history records ${describeCall(recorded)} (${recorded}), but ${made}. ` +
        `The workflow's code changed while the run was in flight; the run is stalled and nothing ran against the wrong history. ` +
        `Fix: put the change behind ctx.patched('<change id>') so runs recorded before it keep the old path, or revert the change and call client.retry(key).`,
      p,
      recorded,
      called,
    );
  }
}

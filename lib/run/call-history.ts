import { NonDeterminismError } from '../errors/non-determinism.error.js';
import type { LogRow } from '../persistence/rows.js';

/** Prefix of a patch marker in a run's history (`ctx.patched(id)` → `patch$<id>`). */
export const PATCH_PREFIX = 'patch$';

/** `step$charge#2` → `step "charge" (2nd call)`: a recorded call's name as people read it. */
export function describeCall(name: string): string {
  const at = name.indexOf('$');
  const kind = at < 0 ? 'call' : name.slice(0, at);
  const rest = at < 0 ? name : name.slice(at + 1);
  const hash = rest.lastIndexOf('#');
  const base = hash < 0 ? rest : rest.slice(0, hash);
  const nth = hash < 0 ? '' : ` (call #${rest.slice(hash + 1)})`;
  return `${kind} "${base}"${nth}`;
}

/**
 * A run's history of durable calls by position, and this pass's calls checked against it. The
 * position of a call is the order in which the workflow code started it (deterministic for
 * deterministic code, `Promise.all` included). The history is stored on the run (`history`) by
 * the statement that ends each pass and read by the one that takes the lock: no statement per
 * call. An entry is the call's step name, a patch marker, or `null` (a call started there was
 * never recorded, e.g. refused after the pass halted).
 */
export class CallHistory {
  /** This pass's calls, by position. */
  private readonly calls: string[] = [];
  private readonly patches = new Map<string, boolean>();

  constructor(
    private readonly recorded: ReadonlyArray<string | null> | null,
    /** Whether the run has step logs recorded before histories existed (no positions known). */
    private readonly legacy: boolean,
    private readonly runLabel: string,
  ) {}

  /**
   * Enters durable call `name` at the next position; returns the divergence if the history
   * records another call there. `parallel`: another durable call was in flight when this one
   * started, so its position may differ from the recorded one by the order in which parallel
   * results arrived (not a code change); such calls are not checked.
   */
  enter(name: string, parallel: boolean): NonDeterminismError | undefined {
    const position = this.calls.push(name) - 1;
    const recorded = this.recorded?.[position];
    if (recorded == null || recorded === name || parallel) return undefined;
    return this.divergence(position, recorded, name);
  }

  /** `ctx.patched(id)` (Temporal's semantics): see {@link WorkflowContext.patched}. */
  patched(id: string): boolean {
    const known = this.patches.get(id);
    if (known !== undefined) return known;
    const marker = `${PATCH_PREFIX}${id}`;
    const position = this.calls.length;
    const recorded = this.recorded?.[position];
    const fresh = !this.legacy && position >= (this.recorded?.length ?? 0);
    const patched = recorded === marker || fresh;
    if (patched) this.calls.push(marker);
    this.patches.set(id, patched);
    return patched;
  }

  /** `ctx.deprecatePatch(id)`: takes the marker when the history has it (or records it when new). */
  deprecatePatch(id: string): void {
    if (this.patches.has(id)) return;
    const position = this.calls.length;
    const marker = `${PATCH_PREFIX}${id}`;
    const fresh = !this.legacy && position >= (this.recorded?.length ?? 0);
    if (this.recorded?.[position] === marker || fresh) this.calls.push(marker);
    this.patches.set(id, true);
  }

  /**
   * A completed run that left recorded calls unmade (the code no longer makes them): the
   * divergence, or `undefined`.
   */
  unmade(): NonDeterminismError | undefined {
    const recorded = this.recorded ?? [];
    for (let p = this.calls.length; p < recorded.length; p++) {
      const name = recorded[p];
      if (name != null) return this.divergence(p, name, null);
    }
    return undefined;
  }

  /**
   * The history to store when the pass ends: this pass's recorded calls over the stored history
   * (its entries are kept where this pass did not reach them). `null` when nothing changed.
   */
  toRecord(logs: ReadonlyMap<string, LogRow>): Array<string | null> | null {
    const recorded = this.recorded ?? [];
    const length = Math.max(recorded.length, this.calls.length);
    const next: Array<string | null> = [];
    for (let p = 0; p < length; p++) {
      const call = this.calls[p];
      const kept = call !== undefined && (call.startsWith(PATCH_PREFIX) || logs.has(call));
      next.push(kept ? call : (recorded[p] ?? null));
    }
    while (next.length > 0 && next[next.length - 1] === null) next.pop();
    if (this.recorded === null) return this.calls.length > 0 ? next : null;
    return JSON.stringify(next) === JSON.stringify(this.recorded) ? null : next;
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

import type { RunRow, StateCarrier, StateClaim } from '../persistence/rows.js';
import { DurableStateWrites } from './durable-state.js';
import { StepRefusals } from './step-refusals.js';

/** A pass's durable state (`ctx.state`), which its checkpoints carry (see `RunScope`). */
export abstract class DurableStateScope extends StepRefusals implements StateCarrier {
  contextDirty = false;
  readonly context: Record<string, unknown>;
  private readonly stateWrites: DurableStateWrites;

  constructor(stored: RunRow['context']) {
    super();
    // Prototype-free: a key such as `constructor` or `__proto__` is only ever a stored entry.
    this.context = Object.assign(Object.create(null) as Record<string, unknown>, stored ?? {});
    this.stateWrites = new DurableStateWrites(this.context);
  }

  /** Records a change of the durable state (`ctx.state`): the next checkpoint writes it. */
  stateChanged(): void {
    this.contextDirty = true;
    this.stateWrites.changed();
  }

  /** {@link StateCarrier}: the state to write with the next checkpoint, if it changed. */
  claimState(): Promise<StateClaim | null> {
    return this.stateWrites.claim();
  }

  /** {@link StateCarrier}: whether a write now would carry no state. */
  stateSettled(): boolean {
    return this.stateWrites.settled();
  }
}

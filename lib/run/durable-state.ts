import type { StateClaim } from '../persistence/rows.js';

/**
 * Which version of a pass's durable state (`ctx.state`) is stored, and the one state-carrying write
 * allowed at a time (two in flight may commit in either order).
 */
export class DurableStateWrites {
  /** Bumped by every change of the durable state; `savedVersion` is the last one stored. */
  private version = 0;
  private savedVersion = 0;
  /** The state-carrying write in flight, if any (see {@link claim}). */
  private writing: Promise<void> | undefined;

  constructor(private readonly state: Record<string, unknown>) {}

  /** Records a change of the state: the next checkpoint writes it. */
  changed(): void {
    this.version++;
  }

  /** No change to write and no state-carrying write in flight. */
  settled(): boolean {
    return this.writing === undefined && this.version <= this.savedVersion;
  }

  /** The state to write with the next checkpoint, if it changed since the last stored version. */
  async claim(): Promise<StateClaim | null> {
    while (this.writing) await this.writing;
    if (this.version <= this.savedVersion) return null;
    const version = this.version;
    let release!: () => void;
    const writing = new Promise<void>((resolve) => (release = resolve));
    this.writing = writing;
    return {
      state: this.state,
      version,
      done: (saved) => {
        if (saved) this.savedVersion = Math.max(this.savedVersion, version);
        if (this.writing === writing) this.writing = undefined;
        release();
      },
    };
  }
}

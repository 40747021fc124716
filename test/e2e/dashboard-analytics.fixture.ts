import { Injectable } from '@nestjs/common';
import { Workflow, WorkflowContext } from '../../lib/index.js';

/** A gate the test opens: runs in `hold` stay in their step (running, holding what they took). */
@Injectable()
export class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open();
  }
}

/** Workflows that wait on each thing the analytics page counts: a lock, a limit, a timer. */
@Injectable()
export class WaitingWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly gate: Gate,
  ) {}

  /** The first run holds the lock inside a step until the gate opens; the others wait on it. */
  @Workflow('stats.locker')
  async locker(): Promise<string> {
    return this.ctx.withLock('stats', () =>
      this.ctx.step('hold', () => this.gate.opened.then(() => 'held')),
    );
  }

  /** One pass at a time: the second run waits on the concurrency limit while the first holds. */
  @Workflow({ name: 'stats.limited', concurrency: { limit: 1 } })
  async limited(): Promise<string> {
    await this.ctx.step('hold', () => this.gate.opened);
    return 'done';
  }

  @Workflow('stats.nap')
  async nap(): Promise<string> {
    await this.ctx.sleep('1h', 'nap');
    return 'rested';
  }
}

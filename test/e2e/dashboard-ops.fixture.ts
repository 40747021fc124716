import { Injectable } from '@nestjs/common';
import { Workflow, WorkflowContext } from '../../lib/index.js';

/** Lets the test hold the `gate` limit's slot for as long as it wants. */
@Injectable()
export class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));

  release(): void {
    this.open();
  }
}

/** A run whose one step takes the `gate` limit (one holder at a time) until the gate opens. */
@Injectable()
export class GatedWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly gate: Gate,
  ) {}

  @Workflow('ops.gated')
  async gated(): Promise<string> {
    await this.ctx.step('call', () => this.gate.opened, { limit: 'gate' });
    return 'passed';
  }

  @Workflow('ops.nightly')
  async nightly(): Promise<string> {
    return 'ran';
  }
}

export const opsProviders = [Gate, GatedWorkflows];

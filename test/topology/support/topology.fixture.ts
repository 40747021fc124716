import { Injectable } from '@nestjs/common';
import { type Duration, Workflow, WorkflowContext } from '../../../lib/index.js';

/** Counts step bodies per run key: a run whose steps ran twice was duplicated. */
@Injectable()
export class StepCounter {
  readonly hits = new Map<string, number>();
  hit(key: string, step: string): void {
    const k = `${key}:${step}`;
    this.hits.set(k, (this.hits.get(k) ?? 0) + 1);
  }
}

/**
 * The topology suite's workflow: two steps around a durable sleep and, when asked, a signal wait —
 * a run touches the pass lock, step logs, a timer wake-up and a signal through whatever topology
 * the suite boots.
 */
@Injectable()
export class TopologyWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly counter: StepCounter,
  ) {}

  @Workflow('topology.run')
  async run(input: { signal?: boolean; sleep?: Duration }): Promise<string> {
    const a = await this.ctx.step('a', async () => {
      this.counter.hit(this.ctx.key, 'a');
      return 1;
    });
    await this.ctx.sleep(input.sleep ?? '50ms');
    const got = input.signal
      ? await this.ctx.waitForSignal<{ n: number }>('go', { timeout: '5m' })
      : { n: 1 };
    const b = await this.ctx.step('b', async () => {
      this.counter.hit(this.ctx.key, 'b');
      return 1;
    });
    return `done ${a + got.n + b}`;
  }
}

export const topologyProviders = [StepCounter, TopologyWorkflow];

import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { OnCancel, Workflow, WorkflowContext } from '../../lib/index.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** How long the step body runs, ignoring its abort signal (README: it runs to its end). */
const BODY_MS = 4_000;

/** The README's `@OnCancel` shape: a `hold` step, and a cleanup that releases the hold. */
@Injectable()
class HoldFlows {
  static readonly log: string[] = [];
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('inflight.hold', { maxDuration: '20s' })
  async hold(): Promise<string> {
    await this.ctx.step('hold', async () => {
      HoldFlows.log.push('hold:start');
      await new Promise((resolve) => setTimeout(resolve, BODY_MS));
      HoldFlows.log.push('hold:end');
    });
    return 'held';
  }

  @OnCancel()
  async release(): Promise<void> {
    HoldFlows.log.push('release');
  }
}

describe('@OnCancel while a cancelled step body is still running (e2e)', () => {
  const suite = suiteApp('oncinfl', [HoldFlows]);

  // The cleanup used to run while the cancelled pass's `hold` body (which ignores
  // ctx.abortSignal, as the README allows) was still running in this process: observed
  // ['hold:start', 'release', 'hold:end']. The rollback pass now waits for such bodies.
  it('should run the cleanup only after the cancelled step body ended', async () => {
    const { client } = suite;
    await client.start('inflight.hold', { key: 'hold-1' });
    await eventually(async () => HoldFlows.log.includes('hold:start'), 10_000, 'hold started');
    await client.cancel('hold-1');
    await eventually(
      async () => HoldFlows.log.includes('hold:end') && HoldFlows.log.includes('release'),
      20_000,
      'body ended and cleanup ran',
    );
    // The cleanup's body ran; its checkpoint and the rollback's end follow in the same pass.
    await eventually(
      async () => (await client.get('hold-1')).state === 'cancelled',
      10_000,
      'the run to end cancelled',
    );
    expect(HoldFlows.log).toEqual(['hold:start', 'hold:end', 'release']);
  });
});

import { Injectable } from '@nestjs/common';
import { Repeat, RetryPolicy } from '../../lib/index.js';
import { FuzzLedger } from './ledger.js';
import { STEP_ATTEMPTS } from './program.js';

/** Budget of every step, tick and `ctx.step` of the fuzz workflows: short backoffs, no jitter. */
export const stepRetry = new RetryPolicy({
  maxAttempts: STEP_ATTEMPTS,
  base: '10ms',
  cap: '40ms',
  jitter: false,
});
/** Workflow-level budget (uncaught errors: `throwOnce` nodes and failed engine statements). */
export const workflowRetry = new RetryPolicy({ maxAttempts: 12, base: '20ms', cap: '200ms' });

/**
 * Lock lifetime of `fuzz.lease` runs: shorter than a pass over a few of their slow steps, so the
 * recovery sweep (every 500 ms) hands such a run to a new pass while the stale one still runs.
 */
export const LEASE = '250ms';

interface TickArgs {
  root: string;
  node: string;
  ticks: number;
}

@Injectable()
export class FuzzTicker {
  constructor(private readonly ledger: FuzzLedger) {}

  async done(args: TickArgs): Promise<boolean> {
    return (await this.ledger.completedTicks()) >= args.ticks;
  }

  @Repeat('100ms', { name: 'tick', till: 'done', retry: stepRetry })
  async tick(args: TickArgs, _scheduledAt = new Date()): Promise<void> {
    await this.ledger.record(args.root, args.node);
  }
}

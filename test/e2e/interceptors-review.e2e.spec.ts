import { describe, expect, it } from 'vitest';
import { type WorkflowRunDetail } from '../../lib/index.js';
import { InterceptorJournal } from '../fixtures/interceptors.fixture.js';
import { ReviewFlows, SlowBeforeNext } from '../fixtures/interceptor-review.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** Ways real users break workflow interceptors (the review of issue 24 item 4). */
describe('workflow interceptors under misuse and faults (e2e)', () => {
  const suite = suiteApp('icptrev', [InterceptorJournal, SlowBeforeNext, ReviewFlows]);
  const journal = (key: string) => suite.app.get(InterceptorJournal).of(key);
  const ended = (key: string) =>
    eventually(
      async () => {
        const run = await suite.client.get(key);
        return ['idle', 'running', 'compensating'].includes(run.state) ? null : run;
      },
      20_000,
      `${key} to end`,
    ) as Promise<WorkflowRunDetail>;

  it('should never start a step body when an interceptor calls next() after the attempt timed out', async () => {
    await suite.client.start('rev.lateNext', { key: 'late-next' });
    const run = await ended('late-next');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => [e.attempt, e.errorClass])).toEqual([
      [1, 'StepTimeoutError'],
      [2, 'StepTimeoutError'],
    ]);
    // Let the late next() calls of both attempts happen.
    await eventually(async () => journal('late-next').length >= 2, 5_000, 'both late calls');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(journal('late-next')).toEqual(['late next #1', 'late next #2']);
  });
});

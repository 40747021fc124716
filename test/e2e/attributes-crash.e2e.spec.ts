import { describe, expect, it } from 'vitest';
import { defaultOutcome } from '../../lib/testing/index.js';
import { AttributeWorkflows } from '../fixtures/attributes.fixture.js';
import { suiteHarness } from '../support/suite.js';

describe('search attributes survive crashes at every checkpoint (e2e)', () => {
  const suite = suiteHarness([AttributeWorkflows]);

  it('should end every crash variant of "attrs.order" with the clean run’s attributes', async () => {
    const report = await suite.harness.explore(
      'attrs.order',
      { customerId: 'c-9' },
      {
        keyPrefix: 'crash',
        outcome: (run) => ({ ...(defaultOutcome(run) as object), attributes: run.attributes }),
      },
    );
    expect(report.clean.outcome).toMatchObject({
      state: 'completed',
      attributes: { customerId: 'c-9', priced: true, total: 42, stage: 'done' },
    });
    const targets = new Set(report.variants.map((v) => v.step));
    expect(targets).toEqual(
      new Set([
        'attributes$set',
        'step$price',
        'attributes$set#2',
        'wait$pause',
        'attributes$set#3',
      ]),
    );
    expect(report.variants.filter((v) => !v.ok)).toEqual([]);
  });
});

import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { suiteApp } from '../support/suite.js';

/** Fetches then saves each item in parallel; item `a`'s fetch is the slower one. */
@Injectable()
class FanOutWorkflows {
  readonly saved: string[] = [];

  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('occurrences.fanOut')
  async fanOut(input: { items: string[] }): Promise<string[]> {
    const out = await Promise.all(
      input.items.map(async (item, i) => {
        const fetched = await this.ctx.step('fetch', async () => {
          await new Promise((r) => setTimeout(r, (input.items.length - i) * 100));
          return item;
        });
        return this.ctx.step('save', () => {
          this.saved.push(fetched);
          return `saved-${fetched}`;
        });
      }),
    );
    // The replay after this sleep must hand each item its own `save` result.
    await this.ctx.sleep('50ms');
    return out;
  }
}

describe('same-named steps called in parallel fibers (e2e)', () => {
  const suite = suiteApp('occ', [FanOutWorkflows]);
  let app: INestApplicationContext;

  beforeAll(async () => {
    app = suite.app;
  });

  it('should give each fiber its own step results on replay when the fibers finished in another order', async () => {
    const items = ['a', 'b', 'c'];
    const handle = await app
      .get(WorkflowClient)
      .start('occurrences.fanOut', { key: 'fan-1', input: { items } });
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual([
      'saved-a',
      'saved-b',
      'saved-c',
    ]);
    // Each save body ran once, in the order the fetches finished (c first).
    expect(app.get(FanOutWorkflows).saved).toEqual(['c', 'b', 'a']);
  });
});

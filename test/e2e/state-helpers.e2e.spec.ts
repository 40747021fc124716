import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Workflow, WorkflowContext } from '../../lib/index.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** What a call answered: its result, or the name of the error it threw. */
function answer(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    return (err as Error).name;
  }
}

@Injectable()
class StateHelperWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  /** merge / mergeOnce / fetch / has across two passes (the second reads the stored state). */
  @Workflow('helpers.roundTrip')
  async roundTrip(): Promise<unknown> {
    const { state } = this.ctx;
    const first = !state.has('customer');
    if (first) {
      state.merge({ customer: 'c-42', total: 10, note: null });
      state.mergeOnce({ total: 99, currency: 'EUR' });
    }
    await this.ctx.sleep('20ms', 'reload');
    return {
      hasNote: state.has('note'),
      hasMissing: state.has('missing'),
      note: state.fetch('note', 'fallback'),
      missing: state.fetch('missing', { none: true }),
      total: state.fetch('total', 0),
      currency: state.get('currency'),
      againOnce: state.mergeOnce({ customer: 'other', tier: 'gold' }),
      tier: state.get('tier'),
      prototypeKey: state.has('toString'),
    };
  }

  /** A merge with one refused entry stores nothing; mergeOnce skips present keys unchecked. */
  @Workflow('helpers.atomic')
  async atomic(): Promise<unknown> {
    const { state } = this.ctx;
    state.set('kept', 1);
    const refused = answer(() => state.merge({ a: 1, kept: 2, bad: Number.NaN }));
    const notObject = answer(() => state.merge([1, 2] as never));
    const skipped = answer(() => state.mergeOnce({ kept: Number.NaN as never, b: 'x' }));
    const refusedOnce = answer(() => state.mergeOnce({ c: 1, d: new Map() as never }));
    const getter = answer(() =>
      state.merge({
        get boom(): never {
          throw new Error('getter');
        },
      }),
    );
    // A Map or Set has no own keys: merged as an object it would silently store nothing.
    const map = answer(() => state.merge(new Map([['m', 1]]) as never));
    const setOnce = answer(() => state.mergeOnce(new Set(['s']) as never));
    await this.ctx.step('checkpoint', () => 'ok');
    return {
      map,
      setOnce,
      refused,
      notObject,
      skipped,
      refusedOnce,
      getter,
      a: state.has('a'),
      c: state.has('c'),
      kept: state.get('kept'),
    };
  }
}

describe('durable state helpers merge / mergeOnce / fetch / has (e2e)', () => {
  const suite = suiteApp('sthelp', [StateHelperWorkflows]);

  it('should merge, fetch and test keys durably across passes', async () => {
    const handle = await suite.client.start('helpers.roundTrip', { key: 'round-trip' });
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual({
      hasNote: true,
      hasMissing: false,
      note: null,
      missing: { none: true },
      total: 10,
      currency: 'EUR',
      againOnce: ['tier'],
      tier: 'gold',
      prototypeKey: false,
    });
    const [row] = await sql<{ context: unknown }>(
      `SELECT context FROM "${suite.schema}".chrono_forge_workflows WHERE key = 'round-trip'`,
    );
    expect(row?.context).toEqual({
      customer: 'c-42',
      total: 10,
      note: null,
      currency: 'EUR',
      tier: 'gold',
    });
  });

  it('should refuse a merge with one unstorable entry as a whole, with StateValueError', async () => {
    const handle = await suite.client.start('helpers.atomic', { key: 'atomic' });
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual({
      map: 'StateValueError',
      setOnce: 'StateValueError',
      refused: 'StateValueError',
      notObject: 'StateValueError',
      skipped: ['b'],
      refusedOnce: 'StateValueError',
      getter: 'StateValueError',
      a: false,
      c: false,
      kept: 1,
    });
    const [row] = await sql<{ context: unknown }>(
      `SELECT context FROM "${suite.schema}".chrono_forge_workflows WHERE key = 'atomic'`,
    );
    expect(row?.context).toEqual({ kept: 1, b: 'x' });
  });
});

import { Injectable } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { SerializationError, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

const PROBED = ['constructor', 'toString', 'hasOwnProperty'];

@Injectable()
class StateValueWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  /** Sets keys that name Object.prototype members, then reads them back after a new pass. */
  @Workflow('values.protoKeys')
  async protoKeys(): Promise<unknown> {
    const { state } = this.ctx;
    const probe = PROBED.map((k) => typeof state.get(k));
    if (state.get('isPrototypeOf') === undefined) {
      state.set('__proto__', { polluted: true });
      state.set('isPrototypeOf', 'stored');
    }
    await this.ctx.sleep('20ms', 'reload'); // the next pass reads the state from the database
    return {
      probe,
      proto: state.get('__proto__'),
      isProto: state.get('isPrototypeOf'),
      setOnceAgain: state.setOnce('__proto__', 'other'),
    };
  }

  /** Tries to store what JSON would alter; returns how each attempt was answered. */
  @Workflow('values.refused')
  async refused(): Promise<unknown> {
    const attempt = (key: string, value: unknown): string => {
      try {
        this.ctx.state.set(key, value as never);
        return 'stored';
      } catch (err) {
        return (err as Error).constructor.name;
      }
    };
    return {
      nan: attempt('nan', Number.NaN),
      map: attempt('map', new Map([['a', 1]])),
      set: attempt('set', { tags: new Set(['x']) }),
      inf: attempt('inf', [Infinity]),
      nanAfter: this.ctx.state.get('nan') === undefined ? 'absent' : 'present',
    };
  }
}

describe('durable state and input values (e2e)', () => {
  const suite = suiteApp('vals', [StateValueWorkflows]);
  const { schema } = suite;
  let client: WorkflowClient;

  beforeAll(async () => {
    client = suite.client;
  });

  it('should treat state keys like constructor and __proto__ as ordinary keys, also after reload', async () => {
    const handle = await client.start('values.protoKeys', { key: 'proto-keys' });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      probe: ['undefined', 'undefined', 'undefined'],
      proto: { polluted: true },
      isProto: 'stored',
      setOnceAgain: false,
    });
    const [row] = await sql<{ proto: unknown; keys: string[] }>(
      `SELECT context->'__proto__' AS proto, ARRAY(SELECT jsonb_object_keys(context) ORDER BY 1) AS keys
       FROM "${schema}".chrono_forge_workflows WHERE key = 'proto-keys'`,
    );
    expect(row).toEqual({ proto: { polluted: true }, keys: ['__proto__', 'isPrototypeOf'] });
  });

  it('should refuse state values JSON would alter (NaN, Map, Set, Infinity) with StateValueError', async () => {
    const handle = await client.start('values.refused', { key: 'refused-state' });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      nan: 'StateValueError',
      map: 'StateValueError',
      set: 'StateValueError',
      inf: 'StateValueError',
      nanAfter: 'absent',
    });
  });

  it.each([
    ['a Map', { byId: new Map([['a', 1]]) }, /Cannot store a Map/],
    ['a Set', { tags: new Set(['x']) }, /Cannot store a Set/],
    ['NaN', { amount: Number.NaN }, /Cannot store NaN at input\.amount/],
    ['Infinity', { limit: Infinity }, /Cannot store Infinity at input\.limit/],
  ])('should refuse an input holding %s, storing no run', async (what, input, message) => {
    const key = `input-${what.replace(/\W/g, '')}`;
    const error = await client.start('values.refused', { key, input }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toMatch(message);
    expect(
      await sql(`SELECT 1 FROM "${schema}".chrono_forge_workflows WHERE key = $1`, [key]),
    ).toEqual([]);
  });
});

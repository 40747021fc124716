import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/index.js';
import {
  flowKeyOf,
  MAX_PRIORITY,
  singletonLimit,
  toPriority,
  toRunFlow,
} from '../../lib/options/flow-options.js';
import { flowFunctionsSql } from '../../migrations/1763900000170-flow-control-functions.js';
import { wakePendingFunctionsSql } from '../../migrations/1763900000210-limit-wake-pending.js';

describe('flow options (singleton, debounce, priority)', () => {
  const where = 'Orders#fulfil';

  it('should build the start rules and the singleton slot of the queue mode', () => {
    const key = (i: { c: string }) => i.c;
    const flow = toRunFlow({ singleton: { key, mode: 'queue' }, priority: 7 }, where);
    expect(flow).toMatchObject({ singleton: { mode: 'queue' }, priority: 7 });
    expect(flowKeyOf(flow, { c: 'acme' })).toBe('acme');
    expect(singletonLimit('orders', flow)).toMatchObject({
      name: 'workflow:orders:singleton',
      stored: { concurrency: 1 },
    });
    const skip = toRunFlow({ singleton: { key, mode: 'skip' } }, where);
    expect(singletonLimit('orders', skip)).toBeUndefined();
    const debounce = toRunFlow({ debounce: { period: '30s', key } }, where);
    expect(debounce.debounce?.periodMs).toBe(30_000);
    expect(flowKeyOf(debounce, { c: 'x' })).toBe('x');
    expect(flowKeyOf(toRunFlow({}, where), { c: 'x' })).toBeNull();
  });

  it('should refuse bad rules with a message saying what to give', () => {
    const bad = (options: unknown) => () => toRunFlow(options as never, where);
    expect(bad({ singleton: { mode: 'drop' } })).toThrow(InvalidOptionsError);
    expect(bad({ singleton: { mode: 'drop' } })).toThrow(/skip, queue, cancelPrevious/);
    expect(bad({ singleton: { mode: 'skip', key: 'c' } })).toThrow(/function of the input/);
    expect(bad({ debounce: { period: 0 } })).toThrow(/1 ms to 366 days/);
    expect(bad({ singleton: { mode: 'skip' }, debounce: { period: '1s' } })).toThrow(/one of them/);
    expect(bad({ priority: 1.5 })).toThrow(/integer from 0/);
    expect(() => toPriority(-1, 'start()')).toThrow(/priority of start\(\)/);
    expect(() => toPriority(MAX_PRIORITY + 1, 'start()')).toThrow(InvalidOptionsError);
    expect(toPriority(MAX_PRIORITY, 'start()')).toBe(MAX_PRIORITY);
  });

  it('should patch the frozen limit functions of migration 1763900000006 (every pattern found)', () => {
    const [wake, acquire, release] = flowFunctionsSql('"s"');
    expect(wake).toContain('CREATE OR REPLACE FUNCTION "s".chrono_forge_limit_wake');
    expect(wake).toContain('ORDER BY q.priority, coalesce(q.ord, q.id)');
    expect(acquire).toContain('THEN p_run ELSE 9223372036854775807 END');
    expect(acquire).toMatch(/priority, ord\)\s+VALUES/);
    expect(release).toContain("q.holder <> '$singleton'");
  });

  it('should patch the wake and acquire functions of migration 1763900000170 (every pattern found)', () => {
    const [wake, acquire] = wakePendingFunctionsSql('"s"');
    expect(wake).toContain('CREATE OR REPLACE FUNCTION "s".chrono_forge_limit_wake');
    expect(wake).toContain('SET woken_at = t WHERE id = r.id');
    expect(wake).toContain('coalesce(q.woken_at > t -');
    expect(wake).toMatch(/CONTINUE WHEN r\.pending;\s+PERFORM pg_notify/);
    expect(wake).not.toContain('avail - count(*)');
    expect(acquire).toContain('priority = EXCLUDED.priority, woken_at = NULL;');
  });
});

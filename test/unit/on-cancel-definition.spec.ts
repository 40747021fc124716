import { describe, expect, it } from 'vitest';
import { assignOnCancel, toOnCancel } from '../../lib/definitions/on-cancel-definition.js';
import { InvalidOnCancelError, RetryPolicy } from '../../lib/index.js';

class Provider {
  calls: unknown[][] = [];
  async cleanup(...args: unknown[]): Promise<string> {
    this.calls.push(args);
    return 'cleaned';
  }
}

describe('@OnCancel definitions', () => {
  const where = 'Provider#cleanup';

  it('should build a cleanup that calls the method on the provider with input and info', async () => {
    const p = new Provider();
    const retry = new RetryPolicy({ maxAttempts: 2 });
    const found = toOnCancel(p, 'cleanup', { retry, timeout: '5s' }, where, false);
    expect(found.workflows).toBeUndefined();
    expect(found.definition.options).toEqual({ retry, timeout: '5s' });
    const info = { reason: 'r', compensated: false };
    await expect(found.definition.call({ id: 1 }, info)).resolves.toBe('cleaned');
    expect(p.calls).toEqual([[{ id: 1 }, info]]);
  });

  it.each([
    [{ workflow: [] }, /non-empty array/],
    [{ workflow: 3 }, /workflow name/],
    [{ retry: 'often' }, /RetryPolicy/],
    [{ timeout: 0 }, /longer than 0 ms/],
    [{ timeout: 'soon' }, /timeout/],
  ])('should refuse options %j with InvalidOnCancelError', (options, message) => {
    const build = () => toOnCancel(new Provider(), 'cleanup', options as never, where, false);
    expect(build).toThrow(InvalidOnCancelError);
    expect(build).toThrow(message);
  });

  it('should refuse a method that is also a workflow or a durable method', () => {
    expect(() => toOnCancel(new Provider(), 'cleanup', {}, where, true)).toThrow(
      /also a @Workflow/,
    );
  });

  it('should give a cleanup to every workflow of the provider, or to those it names', () => {
    const all = toOnCancel(new Provider(), 'cleanup', {}, where, false);
    expect([...assignOnCancel('Provider', ['a', 'b'], [all]).keys()]).toEqual(['a', 'b']);
    const named = toOnCancel(new Provider(), 'cleanup', { workflow: 'b' }, where, false);
    expect([...assignOnCancel('Provider', ['a', 'b'], [named]).keys()]).toEqual(['b']);
    const other = toOnCancel(new Provider(), 'cleanup', { workflow: ['a'] }, 'P#other', false);
    expect(assignOnCancel('Provider', ['a', 'b'], [named, other]).get('a')?.where).toBe('P#other');
  });

  it('should refuse two cleanups of one workflow, an unknown name, and a provider without workflows', () => {
    const a = toOnCancel(new Provider(), 'cleanup', {}, 'P#a', false);
    const b = toOnCancel(new Provider(), 'cleanup', { workflow: 'x' }, 'P#b', false);
    expect(() => assignOnCancel('P', ['x'], [a, b])).toThrow(/two @OnCancel methods, P#a and P#b/);
    const y = toOnCancel(new Provider(), 'cleanup', { workflow: 'y' }, 'P#y', false);
    expect(() => assignOnCancel('P', ['x'], [y])).toThrow(/names workflow "y"/);
    expect(() => assignOnCancel('P', [], [a])).toThrow(InvalidOnCancelError);
    expect(assignOnCancel('P', [], []).size).toBe(0);
  });
});

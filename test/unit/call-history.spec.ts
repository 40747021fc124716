import { describe, expect, it } from 'vitest';
import { NonDeterminismError } from '../../lib/errors/non-determinism.error.js';
import { CallHistory, describeCall } from '../../lib/run/call-history.js';
import type { LogRow } from '../../lib/persistence/rows.js';

const logs = (...names: string[]): Map<string, LogRow> =>
  new Map(
    names.map((n, i) => [
      n,
      {
        id: String(i + 1),
        step_name: n,
        state: 'completed',
        attempts: 1,
        result: null,
        metadata: {},
      },
    ]),
  );

describe('CallHistory', () => {
  it('should accept the recorded calls and flag an inserted one naming both', () => {
    const h = new CallHistory(['step$A', 'step$B', 'wait$pause'], false, 'Run 1');
    expect(h.enter('step$A', false)).toBeUndefined();
    const err = h.enter('step$X', false);
    expect(err).toBeInstanceOf(NonDeterminismError);
    expect(err?.position).toBe(1);
    expect(err?.recorded).toBe('step$B');
    expect(err?.called).toBe('step$X');
  });

  it('should not check a call that started while another ran (parallel results may reorder)', () => {
    const h = new CallHistory(['step$a', 'step$b', 'step$a2', 'step$b2'], false, 'Run 1');
    h.enter('step$a', false);
    h.enter('step$b', true);
    expect(h.enter('step$b2', true)).toBeUndefined();
  });

  it('should flag recorded calls a completed run no longer makes', () => {
    const h = new CallHistory(['step$A', 'step$B'], false, 'Run 1');
    h.enter('step$A', false);
    expect(h.unmade()?.recorded).toBe('step$B');
    expect(h.unmade()?.called).toBeNull();
  });

  it('should answer patched() as Temporal does: old histories false, new runs true and recorded', () => {
    const old = new CallHistory(['step$A', 'step$B'], false, 'Run 1');
    old.enter('step$A', false);
    expect(old.patched('x')).toBe(false);
    expect(old.enter('step$B', false)).toBeUndefined();
    const fresh = new CallHistory(null, false, 'Run 2');
    fresh.enter('step$A', false);
    expect(fresh.patched('x')).toBe(true);
    expect(fresh.patched('x')).toBe(true);
    fresh.enter('step$X', false);
    expect(fresh.toRecord(logs('step$A', 'step$X'))).toEqual(['step$A', 'patch$x', 'step$X']);
    const replay = new CallHistory(['step$A', 'patch$x', 'step$X'], false, 'Run 2');
    replay.enter('step$A', false);
    expect(replay.patched('x')).toBe(true);
    expect(replay.enter('step$X', false)).toBeUndefined();
  });

  it('should answer false for a run recorded before histories existed', () => {
    const legacy = new CallHistory(null, true, 'Run 3');
    expect(legacy.patched('x')).toBe(false);
  });

  it('should let deprecatePatch take the marker or its absence past the history', () => {
    const marked = new CallHistory(['patch$x', 'step$X'], false, 'Run 1');
    marked.deprecatePatch('x');
    expect(marked.enter('step$X', false)).toBeUndefined();
    const fresh = new CallHistory(null, false, 'Run 2');
    fresh.deprecatePatch('x');
    expect(fresh.enter('step$X', false)).toBeUndefined();
  });

  it('should keep recorded entries the pass did not reach and skip unrecorded calls', () => {
    const h = new CallHistory(['step$A', 'step$B', 'wait$w'], false, 'Run 1');
    h.enter('step$A', false);
    expect(h.toRecord(logs('step$A', 'step$B', 'wait$w'))).toBeNull();
    const grown = new CallHistory(['step$A'], false, 'Run 1');
    grown.enter('step$A', false);
    grown.enter('step$late', false);
    grown.enter('step$C', false);
    expect(grown.toRecord(logs('step$A', 'step$C'))).toEqual(['step$A', null, 'step$C']);
  });

  it('should describe calls as people read them', () => {
    expect(describeCall('step$charge#2')).toBe('step "charge" (call #2)');
    expect(describeCall('wait$pause')).toBe('wait "pause"');
  });
});

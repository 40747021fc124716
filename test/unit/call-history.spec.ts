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
    expect(h.enter('step$A', 'sequential')).toBeUndefined();
    const err = h.enter('step$X', 'sequential');
    expect(err).toBeInstanceOf(NonDeterminismError);
    expect(err?.position).toBe(1);
    expect(err?.recorded).toBe('step$B');
    expect(err?.called).toBe('step$X');
  });

  it('should accept racing calls in another order than recorded (parallel results may reorder)', () => {
    const h = new CallHistory(['step$a', 'step$b', 'step$a2', 'step$b2', 'wait$w'], false, 'R');
    expect(h.enter('step$a', 'sequential')).toBeUndefined();
    expect(h.enter('step$b', 'parallel')).toBeUndefined();
    expect(h.enter('step$b2', 'racing')).toBeUndefined();
    expect(h.enter('step$a2', 'racing')).toBeUndefined();
    expect(h.enter('wait$w', 'sequential')).toBeUndefined();
    expect(h.unmade()).toBeUndefined();
    const all = logs('step$a', 'step$b', 'step$a2', 'step$b2', 'wait$w');
    expect(h.toRecord(all)).toEqual(['step$a', 'step$b', 'step$b2', 'step$a2', 'wait$w']);
  });

  it('should flag a renamed, inserted or reordered call of a Promise.all at once', () => {
    const renamed = new CallHistory(['step$a', 'step$b', 'wait$w'], false, 'R');
    renamed.enter('step$a', 'sequential');
    expect(renamed.enter('step$b2', 'parallel')).toMatchObject({
      position: 1,
      recorded: 'step$b',
      called: 'step$b2',
    });
    const reordered = new CallHistory(['step$a', 'step$b', 'step$c'], false, 'R');
    reordered.enter('step$a', 'sequential');
    expect(reordered.enter('step$c', 'parallel')?.recorded).toBe('step$b');
  });

  it('should flag a renamed racing call once the parallel calls settled, or at the end', () => {
    const recorded = ['step$a', 'step$b', 'step$a2', 'step$b2', 'wait$w'];
    const h = new CallHistory(recorded, false, 'R');
    h.enter('step$a', 'sequential');
    h.enter('step$b', 'parallel');
    expect(h.enter('step$a2', 'racing')).toBeUndefined();
    expect(h.enter('step$renamed', 'racing')).toBeUndefined();
    const err = h.enter('wait$w', 'sequential');
    expect(err).toMatchObject({ position: 3, recorded: 'step$b2', called: 'step$renamed' });
    const ended = new CallHistory(recorded.slice(0, 4), false, 'R');
    ended.enter('step$a', 'sequential');
    ended.enter('step$b', 'parallel');
    ended.enter('step$x', 'racing');
    ended.enter('step$a2', 'racing');
    expect(ended.unmade()).toMatchObject({ position: 3, recorded: 'step$b2', called: 'step$x' });
  });

  it('should not duplicate a recorded call that moved when the pass stopped early', () => {
    const h = new CallHistory(['step$a', 'step$b', 'step$a2', 'step$b2'], false, 'R');
    h.enter('step$a', 'sequential');
    h.enter('step$b', 'parallel');
    h.enter('step$b2', 'racing');
    // step$a2 was not made again (the pass halted): its entry stays, step$b2's old one goes.
    const all = logs('step$a', 'step$b', 'step$a2', 'step$b2');
    expect(h.toRecord(all)).toEqual(['step$a', 'step$b', 'step$b2']);
  });

  it('should give branch bodies their own entries and drop them once the branch sealed', () => {
    const stored = ['step$a', 'branch$b', 'branch$b>step$in', 'branch$b>wait$w', 'step$c'];
    const open = new CallHistory(stored, false, 'R', logs('step$a', 'step$in'));
    open.enter('step$a', 'sequential');
    open.enter('branch$b', 'sequential');
    expect(open.enter('branch$b>step$renamed', 'sequential')?.recorded).toBe('branch$b>step$in');
    const sealedLogs = logs('step$a', 'branch$b', 'step$in', 'wait$w', 'step$c');
    const sealed = new CallHistory(stored, false, 'R', sealedLogs);
    sealed.enter('step$a', 'sequential');
    sealed.enter('branch$b', 'sequential');
    expect(sealed.enter('step$c', 'sequential')).toBeUndefined();
    expect(sealed.unmade()).toBeUndefined();
    expect(describeCall('branch$b>step$in#2')).toBe('step "in" (call #2) in branch "b"');
    expect(describeCall('branch$a>b>step$x>y')).toBe('step "x>y" in branch "a>b"');
  });

  it('should flag recorded calls a completed run no longer makes', () => {
    const h = new CallHistory(['step$A', 'step$B'], false, 'Run 1');
    h.enter('step$A', 'sequential');
    expect(h.unmade()?.recorded).toBe('step$B');
    expect(h.unmade()?.called).toBeNull();
  });

  it('should answer patched() as Temporal does: old histories false, new runs true and recorded', () => {
    const old = new CallHistory(['step$A', 'step$B'], false, 'Run 1');
    old.enter('step$A', 'sequential');
    expect(old.patched('x')).toBe(false);
    expect(old.enter('step$B', 'sequential')).toBeUndefined();
    const fresh = new CallHistory(null, false, 'Run 2');
    fresh.enter('step$A', 'sequential');
    expect(fresh.patched('x')).toBe(true);
    expect(fresh.patched('x')).toBe(true);
    fresh.enter('step$X', 'sequential');
    expect(fresh.toRecord(logs('step$A', 'step$X'))).toEqual(['step$A', 'patch$x', 'step$X']);
    const replay = new CallHistory(['step$A', 'patch$x', 'step$X'], false, 'Run 2');
    replay.enter('step$A', 'sequential');
    expect(replay.patched('x')).toBe(true);
    expect(replay.enter('step$X', 'sequential')).toBeUndefined();
  });

  it('should find a patch marker that parallel results moved to another position', () => {
    // Recorded: a call and step b in parallel, b2 after b, then (the call's result last) the patch.
    const h = new CallHistory(
      ['call$q', 'step$b', 'step$b2', 'patch$p', 'step$new', 'wait$end'],
      false,
      'R',
    );
    expect(h.enter('call$q', 'sequential')).toBeUndefined();
    expect(h.enter('step$b', 'parallel')).toBeUndefined();
    // Replayed: the call's result comes back first, so the patch is asked at position 2.
    expect(h.patched('p')).toBe(true);
    expect(h.enter('step$new', 'racing')).toBeUndefined();
    expect(h.enter('step$b2', 'racing')).toBeUndefined();
    expect(h.enter('wait$end', 'sequential')).toBeUndefined();
    expect(h.unmade()).toBeUndefined();
    const never = new CallHistory(['call$q', 'step$b', 'step$b2'], false, 'R');
    never.enter('call$q', 'sequential');
    never.enter('step$b', 'parallel');
    expect(never.patched('p')).toBe(false);
  });

  it('should answer false for a run recorded before histories existed', () => {
    const legacy = new CallHistory(null, true, 'Run 3');
    expect(legacy.patched('x')).toBe(false);
  });

  it('should let deprecatePatch take the marker or its absence past the history', () => {
    const marked = new CallHistory(['patch$x', 'step$X'], false, 'Run 1');
    marked.deprecatePatch('x');
    expect(marked.enter('step$X', 'sequential')).toBeUndefined();
    const fresh = new CallHistory(null, false, 'Run 2');
    fresh.deprecatePatch('x');
    expect(fresh.enter('step$X', 'sequential')).toBeUndefined();
  });

  it('should keep recorded entries the pass did not reach and skip unrecorded calls', () => {
    const h = new CallHistory(['step$A', 'step$B', 'wait$w'], false, 'Run 1');
    h.enter('step$A', 'sequential');
    expect(h.toRecord(logs('step$A', 'step$B', 'wait$w'))).toBeNull();
    const grown = new CallHistory(['step$A'], false, 'Run 1');
    grown.enter('step$A', 'sequential');
    grown.enter('step$late', 'sequential');
    grown.enter('step$C', 'sequential');
    // Only the new entries are sent: the stored history is appended to, not rewritten.
    expect(grown.toRecord(logs('step$A', 'step$C'))).toEqual({ at: 1, append: [null, 'step$C'] });
    const filled = new CallHistory(['step$A', null, 'wait$w'], false, 'Run 1');
    filled.enter('step$A', 'sequential');
    filled.enter('step$B', 'sequential');
    filled.enter('wait$w', 'sequential');
    filled.enter('step$C', 'sequential');
    // A null entry filled in: the whole history.
    const all = logs('step$A', 'step$B', 'wait$w', 'step$C');
    expect(filled.toRecord(all)).toEqual(['step$A', 'step$B', 'wait$w', 'step$C']);
  });

  it('should describe calls as people read them', () => {
    expect(describeCall('step$charge#2')).toBe('step "charge" (call #2)');
    expect(describeCall('wait$pause')).toBe('wait "pause"');
  });
});

import { describe, expect, it } from 'vitest';
import { CallHistory } from '../../lib/run/call-history.js';
import {
  branchEntry,
  branchOf,
  callOf,
  isRecorded,
  withoutSealedBodies,
} from '../../lib/run/history-entries.js';
import type { LogRow } from '../../lib/persistence/rows.js';

const log = (name: string, state: LogRow['state'] = 'completed'): [string, LogRow] => [
  name,
  { id: '1', step_name: name, state, attempts: 1, result: null, metadata: {} },
];

describe('history entries', () => {
  it('should name a branch body call by its branch, and split it back', () => {
    const e = branchEntry('branch$fan', 'step$load#2');
    expect(e).toBe('branch$fan>step$load#2');
    expect(branchOf(e)).toBe('branch$fan');
    expect(callOf(e)).toBe('step$load#2');
    // Branch and step names may contain '>' (not '$'): the call starts at its kind.
    const odd = branchEntry('branch$a>b', 'step$x>y');
    expect(branchOf(odd)).toBe('branch$a>b');
    expect(callOf(odd)).toBe('step$x>y');
    expect(branchOf('branch$fan')).toBeUndefined();
    expect(branchOf('step$a>b')).toBeUndefined();
    expect(callOf('wait$pause')).toBe('wait$pause');
  });

  it('should count a call recorded when its log exists or it is a patch marker', () => {
    const logs = new Map([log('step$in')]);
    expect(isRecorded('branch$fan>step$in', logs)).toBe(true);
    expect(isRecorded('patch$x', logs)).toBe(true);
    expect(isRecorded('step$other', logs)).toBe(false);
  });

  it('should drop the body entries of sealed branches only', () => {
    const history = ['branch$a', 'branch$a>step$x', 'branch$b', 'branch$b>step$y', 'step$z'];
    const open = new Map([log('branch$a', 'pending'), log('branch$b', 'pending')]);
    expect(withoutSealedBodies(history, open)).toBe(history);
    const sealedA = new Map([log('branch$a'), log('branch$b', 'pending')]);
    expect(withoutSealedBodies(history, sealedA)).toEqual([
      'branch$a',
      'branch$b',
      'branch$b>step$y',
      'step$z',
    ]);
  });
});

describe('CallHistory.orderOf()', () => {
  it('should tell sequential, parallel and racing calls apart', () => {
    const h = new CallHistory(null, false, 'R');
    expect(h.orderOf(0, false)).toBe('sequential');
    expect(h.orderOf(1, false)).toBe('parallel'); // started together, nothing settled yet
    h.settled();
    expect(h.orderOf(1, false)).toBe('racing'); // started after a sibling's result came
    expect(h.orderOf(0, false)).toBe('sequential'); // everything settled: a new start
    expect(h.orderOf(1, false)).toBe('parallel');
    expect(h.orderOf(0, true)).toBe('racing'); // a halted pass: refusals come in any order
  });
});

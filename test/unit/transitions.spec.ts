import { describe, expect, it } from 'vitest';
import { allowedFrom, canTransition, TRANSITIONS } from '../../lib/client/transitions.js';
import type { WorkflowState } from '../../lib/database/entities/workflow.entity.js';

const STATES: WorkflowState[] = [
  'idle',
  'running',
  'completed',
  'failed',
  'stalled',
  'cancelled',
  'compensating',
  'compensated',
];

describe('TRANSITIONS', () => {
  it('should list every workflow state exactly once', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATES].sort());
  });

  it('should only target known states and never the same state', () => {
    for (const [from, targets] of Object.entries(TRANSITIONS)) {
      expect(new Set(targets).size).toBe(targets.length);
      for (const to of targets) {
        expect(STATES).toContain(to);
        expect(to).not.toBe(from);
      }
    }
  });

  it('should encode the documented state machine', () => {
    expect(TRANSITIONS).toEqual({
      idle: ['running', 'cancelled', 'compensating'],
      running: ['idle', 'completed', 'failed', 'stalled', 'cancelled', 'compensating'],
      stalled: ['idle', 'cancelled', 'compensating'],
      failed: ['idle', 'compensating'],
      completed: ['compensating'],
      cancelled: [],
      compensating: ['compensated', 'failed', 'cancelled', 'completed'],
      compensated: [],
    });
  });

  it('should make cancelled and compensated terminal, and completed left only by a rollback', () => {
    // A completed child rolls back when its parent does (cause byParent), nothing else moves it.
    expect(TRANSITIONS.completed).toEqual(['compensating']);
    expect(TRANSITIONS.cancelled).toHaveLength(0);
    expect(TRANSITIONS.compensated).toHaveLength(0);
  });

  it('should only let a running pass finish a run, or a rollback end it', () => {
    for (const from of STATES) {
      expect(canTransition(from, 'completed')).toBe(from === 'running' || from === 'compensating');
      expect(canTransition(from, 'failed')).toBe(from === 'running' || from === 'compensating');
      expect(canTransition(from, 'stalled')).toBe(from === 'running');
      expect(canTransition(from, 'compensated')).toBe(from === 'compensating');
    }
  });

  it('should make every non-terminal state reach a terminal state', () => {
    const terminal = new Set<WorkflowState>(['completed', 'cancelled', 'compensated']);
    for (const start of STATES) {
      const seen = new Set<WorkflowState>([start]);
      const queue = [start];
      while (queue.length > 0) {
        for (const next of TRANSITIONS[queue.shift()!]) {
          if (!seen.has(next)) {
            seen.add(next);
            queue.push(next);
          }
        }
      }
      expect([...seen].some((s) => terminal.has(s))).toBe(true);
    }
  });
});

describe('canTransition()', () => {
  it('should allow the listed transitions', () => {
    expect(canTransition('idle', 'running')).toBe(true);
    expect(canTransition('running', 'idle')).toBe(true);
    expect(canTransition('running', 'completed')).toBe(true);
    expect(canTransition('failed', 'idle')).toBe(true);
    expect(canTransition('stalled', 'cancelled')).toBe(true);
  });

  it('should refuse transitions that are not listed', () => {
    expect(canTransition('idle', 'completed')).toBe(false);
    expect(canTransition('failed', 'cancelled')).toBe(false);
    expect(canTransition('completed', 'idle')).toBe(false);
    expect(canTransition('cancelled', 'running')).toBe(false);
    expect(canTransition('running', 'running')).toBe(false);
  });

  it('should agree with TRANSITIONS for every pair of states', () => {
    for (const from of STATES) {
      for (const to of STATES) {
        expect(canTransition(from, to)).toBe(TRANSITIONS[from].includes(to));
      }
    }
  });
});

describe('allowedFrom()', () => {
  it("should allow retry from 'failed' and 'stalled'", () => {
    expect(allowedFrom('retry')).toEqual(['failed', 'stalled']);
  });

  it("should only allow retry from states that can move to 'idle'", () => {
    for (const s of allowedFrom('retry')) expect(canTransition(s, 'idle')).toBe(true);
  });

  it("should allow cancel from the states that can move to 'cancelled', except a rollback", () => {
    expect(allowedFrom('cancel').sort()).toEqual(['idle', 'running', 'stalled']);
    for (const s of STATES) {
      expect(allowedFrom('cancel').includes(s)).toBe(
        s !== 'compensating' && canTransition(s, 'cancelled'),
      );
    }
  });

  it("should allow compensate from states that can move to 'compensating' and have ended", () => {
    expect(allowedFrom('compensate')).toEqual(['failed', 'stalled']);
    for (const s of allowedFrom('compensate')) expect(canTransition(s, 'compensating')).toBe(true);
  });

  it('should return a fresh array each call', () => {
    const a = allowedFrom('retry');
    a.push('completed');
    expect(allowedFrom('retry')).toEqual(['failed', 'stalled']);
  });
});

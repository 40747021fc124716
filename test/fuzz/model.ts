import type { Value } from './fuzz.fixture.js';
import { type Program, STEP_ATTEMPTS, type StepNode, type Stmt } from './program.js';

/** What the reference model says a program's run must end with, absent a successful cancel. */
export interface Expectation {
  /**
   * `completed`: broken steps are fixed and retried by the driver; `compensated`: a saga program
   * stalled after completing compensated steps, and rolled back instead.
   */
  state: 'completed' | 'compensated';
  /** Whether the run stalls (an uncaught broken step) before the driver's fix and retry. */
  stalls: boolean;
  /** The workflow's result: `{ [node]: value }`. */
  result: Record<string, Value>;
  /** The run's durable state at the end. */
  context: Record<string, string>;
  /** The run's search attributes at the end. */
  attributes: Record<string, string>;
  /** Body executions per ledger node (children: `<node>.c<i>`) in a run without faults. */
  counts: Map<string, number>;
  /** Nodes whose ledger row is written inside the step's transaction (exactly once). */
  transactional: Set<string>;
  /**
   * `ctx.once` nodes: their body runs in at most one run of the batch per once key (which one is
   * a race), so 0 or 1 times here; limit-invariants.ts checks the batch.
   */
  once: Set<string>;
  /** Sleep nodes (`sleep`, `wakeMiss`) the run reaches: their `wait$z_<id>` logs end completed. */
  sleeps: Set<string>;
}

/** A broken step's final failure (`ExecutionFailedError`) of step node `node`. */
class Failed extends Error {
  constructor(readonly node: string) {
    super(node);
  }
}

/**
 * The reference model: a direct interpreter of the program over an abstract store of step logs.
 * Phase 1 runs with every broken step broken; an uncaught failure stalls the run, the driver fixes
 * it and retries (the step whose failure escaped becomes pending with a fresh budget; a failure
 * the workflow caught stays failed: it is history and fails again on replay) and phase 2 runs from
 * the top. Replay is modelled by the store: a completed node is never executed again.
 */
export function expectationOf(program: Program): Expectation {
  const counts = new Map<string, number>();
  const transactional = new Set<string>();
  const once = new Set<string>();
  const sleeps = new Set<string>();
  const done = new Set<string>();
  const failedLogs = new Set<string>();
  const stateKeys = new Set<string>();
  const attrKeys = new Set<string>();
  let fixed = false;
  const add = (node: string, n: number) => counts.set(node, (counts.get(node) ?? 0) + n);

  // Compensated steps (plain steps and Promise.all items) completed, in a saga program.
  const compensable: string[] = [];
  const step = (s: StepNode): Value => {
    if (program.saga && !done.has(s.id)) compensable.push(s.id);
    if (!done.has(s.id)) {
      // A transactional step's failed attempts roll their ledger row back.
      add(s.id, s.via === 'tx' ? 1 : s.flaky + 1);
      if (s.via === 'tx') transactional.add(s.id);
      done.add(s.id);
    }
    return `v_${s.id}`;
  };

  const walk = (body: Stmt[], values: Record<string, Value>): void => {
    for (const s of body) {
      switch (s.k) {
        case 'step':
          values[s.id] = step(s);
          break;
        case 'broken':
          if (done.has(s.id)) {
            values[s.id] = `v_${s.id}`;
          } else if (failedLogs.has(s.id)) {
            throw new Failed(s.id);
          } else if (fixed) {
            add(s.id, 1);
            done.add(s.id);
            values[s.id] = `v_${s.id}`;
          } else {
            add(s.id, STEP_ATTEMPTS);
            failedLogs.add(s.id);
            throw new Failed(s.id);
          }
          break;
        case 'all':
          values[s.id] = s.items.map(step);
          break;
        case 'loop': {
          const out: Value[] = [];
          values[s.id] = out;
          for (let i = 0; i < s.count; i++) {
            const node = `${s.id}.${i}`;
            if (!done.has(node)) add(node, 1);
            if (s.tx) transactional.add(node);
            done.add(node);
            out.push(`v_${node}`);
          }
          break;
        }
        case 'try':
          try {
            walk(s.body, values);
          } catch (err) {
            if (!(err instanceof Failed)) throw err;
          }
          break;
        case 'signal':
          values[s.id] = `pay_${s.id}`;
          break;
        case 'repeat':
          if (!done.has(s.id)) add(s.id, s.ticks);
          done.add(s.id);
          break;
        case 'branch':
          if (!done.has(s.id)) for (let i = 0; i < s.children; i++) add(`${s.id}.c${i}`, 1);
          done.add(s.id);
          break;
        case 'call':
          if (!done.has(s.id)) add(`${s.id}.c0`, 1);
          done.add(s.id);
          values[s.id] = `v_${s.id}.c0`;
          break;
        case 'nested':
          if (!done.has(s.id)) {
            add(s.id, 1);
            add(s.innerId, 1);
            done.add(s.id);
          }
          values[s.id] = [`v_${s.id}`, `v_${s.innerId}`];
          break;
        case 'set':
          if (s.inStep && !done.has(s.id)) add(s.id, 1);
          done.add(s.id);
          stateKeys.add(s.id);
          break;
        case 'attr':
          if (s.inStep && !done.has(s.id)) add(s.id, 1);
          done.add(s.id);
          attrKeys.add(s.id);
          break;
        case 'get':
          values[s.id] = stateKeys.has(s.ref) ? `v_${s.ref}` : null;
          break;
        case 'limited':
          if (!done.has(s.id)) add(s.id, 1);
          done.add(s.id);
          values[s.id] = `v_${s.id}`;
          break;
        case 'once':
          once.add(s.id);
          break;
        case 'sleep':
        case 'wakeMiss':
          sleeps.add(s.id);
          break;
        case 'throwOnce':
          break;
      }
    }
  };

  let result: Record<string, Value> = {};
  let stalls = false;
  try {
    walk(program.body, result);
  } catch (err) {
    if (!(err instanceof Failed)) throw err;
    // A saga rolls back at its stall (the driver never sees it stalled): no second phase.
    if (compensable.length > 0)
      return {
        state: 'compensated',
        stalls: false,
        result,
        context: {},
        attributes: {},
        counts,
        transactional,
        once,
        sleeps,
      };
    stalls = true;
    fixed = true;
    failedLogs.delete(err.node);
    result = {};
    walk(program.body, result);
  }
  const context: Record<string, string> = {};
  for (const k of stateKeys) context[`k_${k}`] = `v_${k}`;
  const attributes: Record<string, string> = {};
  for (const k of attrKeys) attributes[`a_${k}`] = `v_${k}`;
  return {
    state: 'completed',
    stalls,
    result,
    context,
    attributes,
    counts,
    transactional,
    once,
    sleeps,
  };
}

import fc from 'fast-check';
import {
  type BrokenNode,
  type CallNode,
  type Program,
  type ShapeSwitches,
  SQL_FAULT_KINDS,
  STEP_ATTEMPTS,
  type LimitedNode,
  LIMIT_KEYS,
  type OnceNode,
  type StepNode,
  type StepVia,
  type Stmt,
  type ThrowOnceNode,
  type TryNode,
  someNode,
} from './program.js';

/** The fast-check arbitraries of fuzz programs and their fault schedules (types in program.ts). */

const stepArb = (sw: ShapeSwitches, inParallel: boolean): fc.Arbitrary<StepNode> =>
  fc.record({
    k: fc.constant('step' as const),
    id: fc.constant(''),
    via: fc.constantFrom<StepVia>('decorated', 'inline', 'tx'),
    flaky:
      inParallel && !sw.parallelFlaky
        ? fc.constant(0)
        : fc.oneof(
            { weight: 4, arbitrary: fc.constant(0) },
            { weight: 1, arbitrary: fc.integer({ min: 1, max: STEP_ATTEMPTS - 1 }) },
          ),
    ms: fc.oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 10, max: 150 }) },
    ),
    align: fc.constantFrom(0, 100),
  });

/** `arb` in about `pct` % of the draws, else null. */
export const sometimes = <T>(arb: fc.Arbitrary<T>, pct: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 100 - pct, arbitrary: fc.constant(null) }, { weight: pct, arbitrary: arb });

/** Flow-control nodes: a step under a per-key concurrency or rate limit, and `ctx.once`. */
function flowControlArbs(): fc.Arbitrary<Stmt>[] {
  const limited: fc.Arbitrary<LimitedNode> = fc.record({
    k: fc.constant('limited' as const),
    id: fc.constant(''),
    limit: fc.constantFrom('conc' as const, 'rate' as const),
    key: fc.nat(LIMIT_KEYS - 1),
    ms: fc.integer({ min: 0, max: 120 }),
  });
  const once: fc.Arbitrary<OnceNode> = fc.record({
    k: fc.constant('once' as const),
    id: fc.constant(''),
    key: fc.nat(LIMIT_KEYS - 1),
  });
  return [limited, limited, once];
}

/** Arbitrary programs of the general shape (see shapes.ts for the others). */
export function plainProgramArb(sw: ShapeSwitches): fc.Arbitrary<Program> {
  const loop = fc.record({
    k: fc.constant('loop' as const),
    id: fc.constant(''),
    count: fc.integer({ min: 2, max: 6 }),
    ms: fc.integer({ min: 0, max: 120 }),
    guard: sw.catchAll ? fc.boolean() : fc.constant(false),
    tx: fc.boolean(),
  });
  const leaf: fc.Arbitrary<Stmt>[] = [
    loop,
    loop,
    stepArb(sw, false),
    fc.constant<BrokenNode>({ k: 'broken', id: '' }),
    fc.record({
      k: fc.constant('all' as const),
      id: fc.constant(''),
      items: fc.array(stepArb(sw, true), { minLength: 2, maxLength: 3 }),
    }),
    fc.record({
      k: fc.constant('sleep' as const),
      id: fc.constant(''),
      ms: fc.integer({ min: 20, max: 250 }),
    }),
    fc.record({
      k: fc.constant('wakeMiss' as const),
      id: fc.constant(''),
      ms: fc.integer({ min: 20, max: 250 }),
    }),
    fc.record({
      k: fc.constant('signal' as const),
      id: fc.constant(''),
      sendAfterMs: fc.integer({ min: 0, max: 900 }),
    }),
    fc.record({
      k: fc.constant('repeat' as const),
      id: fc.constant(''),
      ticks: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({ k: fc.constant('nested' as const), id: fc.constant(''), innerId: fc.constant('') }),
    fc.record({
      k: fc.constant('set' as const),
      id: fc.constant(''),
      inStep: sw.stateInStep ? fc.boolean() : fc.constant(false),
    }),
    fc.record({
      k: fc.constant('attr' as const),
      id: fc.constant(''),
      inStep: fc.boolean(),
    }),
    fc.record({
      k: fc.constant('get' as const),
      id: fc.constant(''),
      ref: sw.protoKeys
        ? fc.oneof(
            fc.nat(6).map(String),
            fc.constantFrom('raw:constructor', 'raw:__proto__', 'raw:toString'),
          )
        : fc.nat(6).map(String),
    }),
    fc.constant<ThrowOnceNode>({ k: 'throwOnce', id: '' }),
    ...(sw.limits ? flowControlArbs() : []),
    fc.constant<CallNode>({ k: 'call', id: '' }),
  ];
  const { stmt } = fc.letrec<{ stmt: Stmt; tryNode: TryNode }>((tie) => ({
    stmt: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      ...leaf.map((arbitrary) => ({ weight: 3, arbitrary })),
      { weight: 2, arbitrary: tie('tryNode') },
    ),
    tryNode: fc.record({
      k: fc.constant('try' as const),
      id: fc.constant(''),
      mode: sw.catchAll
        ? fc.constantFrom('typed' as const, 'all' as const)
        : fc.constant('typed' as const),
      body: fc.array(tie('stmt'), { minLength: 1, maxLength: 3 }),
    }),
  }));
  const branch = fc.record({
    k: fc.constant('branch' as const),
    id: fc.constant(''),
    children: fc.integer({ min: 1, max: 3 }),
    each: fc.boolean(),
  });
  const body = fc
    .tuple(fc.array(stmt, { minLength: 1, maxLength: 6 }), fc.option(branch), fc.nat())
    .map(([stmts, b, at]) =>
      b
        ? [...stmts.slice(0, at % (stmts.length + 1)), b, ...stmts.slice(at % (stmts.length + 1))]
        : stmts,
    );
  const sqlKinds = SQL_FAULT_KINDS.filter((k) => k !== 'unlock' || sw.sqlUnlock);
  const faults = fc.record({
    cancelAfterMs: sw.cancel ? sometimes(fc.integer({ min: 0, max: 1500 }), 25) : fc.constant(null),
    resumeAfterMs: sometimes(fc.integer({ min: 0, max: 1000 }), 25),
    sql: sw.sql
      ? fc.option(
          fc.record({ kind: fc.constantFrom(...sqlKinds), nth: fc.integer({ min: 1, max: 4 }) }),
          { freq: 3 },
        )
      : fc.constant(null),
    retryAfterMs: fc.integer({ min: 0, max: 300 }),
  });
  return fc
    .record({ body, faults, saga: sw.saga ? fc.boolean() : fc.constant(false) })
    .map((p) =>
      !sw.retryShift && p.body.some((s) => s.k === 'broken')
        ? { ...p, body: p.body.map((s) => (s.k === 'try' ? uncaughtOnly(s) : s)) }
        : p,
    )
    .map((p) =>
      !sw.sqlInCatchAll &&
      someNode(p.body, (s) => (s.k === 'try' && s.mode === 'all') || (s.k === 'loop' && s.guard))
        ? { ...p, faults: { ...p.faults, sql: null } }
        : p,
    )
    .map(numberProgram);
}

/** The try with its broken steps made plain steps (they would be caught, then fixed by a retry). */
function uncaughtOnly(t: TryNode): TryNode {
  return {
    ...t,
    body: t.body.map((s): Stmt =>
      s.k === 'broken'
        ? { k: 'step', id: '', via: 'decorated', flaky: 0, ms: 0 }
        : s.k === 'try'
          ? uncaughtOnly(s)
          : s,
    ),
  };
}

/**
 * A catch-all that swallows a transient workflow-code error skips the rest of its body in that pass
 * only, so what runs would depend on pass boundaries: no `throwOnce` or `wakeMiss` inside one (a
 * 20 ms sleep).
 */
function deterministic(body: Stmt[]): Stmt[] {
  return body.map((s) =>
    s.k === 'throwOnce' || s.k === 'wakeMiss'
      ? { k: 'sleep', id: '', ms: 20 }
      : s.k === 'try'
        ? { ...s, body: deterministic(s.body) }
        : s,
  );
}

/** Gives every node its id in document order; `get` refs become ids of set nodes (or dangle). */
export function numberProgram(p: Program): Program {
  let n = 0;
  const next = () => `n${++n}`;
  const sets: string[] = [];
  const walk = (stmts: Stmt[]): Stmt[] =>
    stmts.map((s): Stmt => {
      const id = next();
      switch (s.k) {
        case 'all':
          return { ...s, id, items: s.items.map((i) => ({ ...i, id: next() })) };
        case 'try':
          return { ...s, id, body: walk(s.mode === 'all' ? deterministic(s.body) : s.body) };
        case 'nested':
          return { ...s, id, innerId: next() };
        case 'set':
          sets.push(id);
          return { ...s, id };
        case 'get': {
          if (s.ref.startsWith('raw:')) return { ...s, id };
          const i = Number(s.ref);
          return { ...s, id, ref: i < sets.length ? sets[i] : `unset${i}` };
        }
        default:
          return { ...s, id };
      }
    });
  return { ...p, body: walk(p.body) };
}

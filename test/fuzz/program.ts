import fc from 'fast-check';

/**
 * Fuzz programs: a workflow body as data. One generic provider (fuzz.fixture.ts) interprets it, so
 * any number of generated programs run without code generation. Node ids (`n1`, `n2`, …) are given
 * in document order by {@link numberProgram}; every step body writes a ledger row under its node id.
 */

/** How a plain step is called: `@DurableStep` method, `ctx.step()`, or a transactional step. */
export type StepVia = 'decorated' | 'inline' | 'tx';

/**
 * A memoized step; `flaky` = attempts that throw before one succeeds (below the step budget);
 * `ms` = how long its body works (after writing its ledger row).
 */
export interface StepNode {
  k: 'step';
  id: string;
  via: StepVia;
  flaky: number;
  ms: number;
}

/** A step that throws on every attempt until the driver "fixes" its run (then `client.retry`). */
export interface BrokenNode {
  k: 'broken';
  id: string;
}

/**
 * `for (let i = 0; i < count; i++) await this.steps.work(...)`: nodes `<id>.<i>`, `ms` each; with
 * `guard`, each iteration is wrapped in a catch-all `try { … } catch {}` (a loop that keeps going).
 */
export interface LoopNode {
  k: 'loop';
  id: string;
  count: number;
  ms: number;
  guard: boolean;
}

/** `await Promise.all([...])` over steps. */
export interface AllNode {
  k: 'all';
  id: string;
  items: StepNode[];
}

/**
 * `try { body } catch`: `typed` catches `ExecutionFailedError` and rethrows anything else (the
 * documented shape); `all` is a catch-all that swallows everything, the engine's halts included.
 */
export interface TryNode {
  k: 'try';
  id: string;
  mode: 'typed' | 'all';
  body: Stmt[];
}

export interface SleepNode {
  k: 'sleep';
  id: string;
  ms: number;
}

/** `ctx.waitForSignal(g<id>)`; the driver sends payload `pay-<id>` `sendAfterMs` after the start. */
export interface SignalNode {
  k: 'signal';
  id: string;
  sendAfterMs: number;
}

/** A `@Repeat('100ms')` call whose `till` holds after `ticks` completed ticks. */
export interface RepeatNode {
  k: 'repeat';
  id: string;
  ticks: number;
}

/** A `@Branch()` call spawning `children` child runs (spawn or spawnEach), then `ctx.merge`. */
export interface BranchNode {
  k: 'branch';
  id: string;
  children: number;
  each: boolean;
}

/** A `@DurableStep` whose body calls another `@DurableStep` (a plain call inside a step body). */
export interface NestedNode {
  k: 'nested';
  id: string;
  innerId: string;
}

/** `ctx.state.set('k<id>', 'v<id>')`, in workflow code or (`inStep`) inside a `ctx.step` body. */
export interface SetNode {
  k: 'set';
  id: string;
  inStep: boolean;
}

/**
 * `ctx.state.get('k<ref>')` where `ref` is an earlier set node (or a key never set); `raw:<key>`
 * reads `<key>` itself (`constructor`, `__proto__`, `toString`: never set, so `undefined`).
 */
export interface GetNode {
  k: 'get';
  id: string;
  ref: string;
}

/** Workflow code (not a step) throws a transient error the first time it gets here. */
export interface ThrowOnceNode {
  k: 'throwOnce';
  id: string;
}

export type Stmt =
  | StepNode
  | BrokenNode
  | AllNode
  | LoopNode
  | TryNode
  | SleepNode
  | SignalNode
  | RepeatNode
  | BranchNode
  | NestedNode
  | SetNode
  | GetNode
  | ThrowOnceNode;

/** A program and the faults applied to its run. */
export interface Program {
  body: Stmt[];
  faults: Faults;
}

/** The statement kinds of the database fault trigger (see db-faults.ts). */
export const SQL_FAULT_KINDS = [
  'lock',
  'unlock',
  'wf',
  'log.insert',
  'log.update',
  'signal',
] as const;
export type SqlFaultKind = (typeof SQL_FAULT_KINDS)[number];

export interface Faults {
  /** `client.cancel` this long after the start. */
  cancelAfterMs: number | null;
  /** A spurious `client.resume` this long after the start (must change nothing). */
  resumeAfterMs: number | null;
  /** One failed SQL statement: the nth statement of that kind touching this run raises. */
  sql: { kind: SqlFaultKind; nth: number } | null;
  /** Delay between the run stalling and the driver fixing it and calling `client.retry`. */
  retryAfterMs: number;
}

/** Shapes that are switched on (FUZZ_SHAPES); some hit known issue-15 items (see fuzz.config.ts). */
export interface ShapeSwitches {
  /** Flaky steps inside `Promise.all` (issue 15 item 1). */
  parallelFlaky: boolean;
  /** Cancels while a catch-all `try` loops over steps (item 2 / 16). */
  cancel: boolean;
  /** Failed SQL statements on lock release (item 5). */
  sqlUnlock: boolean;
  /** Failed SQL statements elsewhere. */
  sql: boolean;
  /** Catch-all try/catch blocks. */
  catchAll: boolean;
  /** Failed SQL statements in programs with a catch-all (the error reaches user code: finding F2). */
  sqlInCatchAll: boolean;
  /** `ctx.state.set` inside a step body (item 18: lost when the pass crashes after the checkpoint). */
  stateInStep: boolean;
  /** `ctx.state.get` of `constructor` / `__proto__` / `toString` (item 20). */
  protoKeys: boolean;
  /**
   * Caught broken steps in a program that a retry resumes: after the retry they succeed, the
   * calls that follow shift their occurrence numbers and replay other calls' results (finding F3).
   */
  retryShift: boolean;
}

/** Step budget (`maxAttempts`) of the fuzz workflows' steps. */
export const STEP_ATTEMPTS = 3;

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
  });

/** `arb` in about `pct` % of the draws, else null. */
const sometimes = <T>(arb: fc.Arbitrary<T>, pct: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 100 - pct, arbitrary: fc.constant(null) }, { weight: pct, arbitrary: arb });

/** Arbitrary programs under the given switches (ids are assigned later by `numberProgram`). */
export function programArb(sw: ShapeSwitches): fc.Arbitrary<Program> {
  const loop = fc.record({
    k: fc.constant('loop' as const),
    id: fc.constant(''),
    count: fc.integer({ min: 2, max: 6 }),
    ms: fc.integer({ min: 0, max: 120 }),
    guard: sw.catchAll ? fc.boolean() : fc.constant(false),
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
    .record({ body, faults })
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

/** Whether any node of the program satisfies `pred` (depth first). */
export function someNode(body: Stmt[], pred: (s: Stmt) => boolean): boolean {
  return body.some((s) => pred(s) || (s.k === 'try' && someNode(s.body, pred)));
}

/**
 * A catch-all that swallows a transient workflow-code error skips the rest of its body in that pass
 * only, so what runs would depend on pass boundaries: no `throwOnce` inside one (a 20 ms sleep).
 */
function deterministic(body: Stmt[]): Stmt[] {
  return body.map((s) =>
    s.k === 'throwOnce'
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
  return { body: walk(p.body), faults: p.faults };
}

/** The state key a get node reads. */
export function stateKey(ref: string): string {
  return ref.startsWith('raw:') ? ref.slice(4) : `k_${ref}`;
}

/** The program as the TypeScript a user would write (printed on failure). */
export function printProgram(p: Program): string {
  const lines: string[] = [];
  const step = (s: StepNode) => {
    const flaky =
      (s.flaky ? ` /* throws ${s.flaky}x */` : '') + (s.ms ? ` /* works ${s.ms} ms */` : '');
    if (s.via === 'inline') return `ctx.step('s_${s.id}', body)${flaky}`;
    if (s.via === 'tx') return `this.steps.txWork('${s.id}')${flaky}`;
    return `this.steps.work('${s.id}')${flaky}`;
  };
  const emit = (stmts: Stmt[], pad: string) => {
    for (const s of stmts) {
      switch (s.k) {
        case 'step':
          lines.push(`${pad}await ${step(s)};`);
          break;
        case 'broken':
          lines.push(`${pad}await this.steps.broken('${s.id}'); // fails until fixed + retried`);
          break;
        case 'all':
          lines.push(`${pad}await Promise.all([${s.items.map(step).join(', ')}]); // ${s.id}`);
          break;
        case 'try':
          lines.push(`${pad}try { // ${s.id}`);
          emit(s.body, `${pad}  `);
          lines.push(
            s.mode === 'all'
              ? `${pad}} catch {} // catch-all, swallows`
              : `${pad}} catch (e) { if (!(e instanceof ExecutionFailedError)) throw e; }`,
          );
          break;
        case 'loop':
          lines.push(
            s.guard
              ? `${pad}for (let i = 0; i < ${s.count}; i++) try { await this.steps.work(\`${s.id}.\${i}\`) /* works ${s.ms} ms */; } catch {}`
              : `${pad}for (let i = 0; i < ${s.count}; i++) await this.steps.work(\`${s.id}.\${i}\`) /* works ${s.ms} ms */;`,
          );
          break;
        case 'sleep':
          lines.push(`${pad}await ctx.sleep('${s.ms}ms'); // ${s.id}`);
          break;
        case 'signal':
          lines.push(`${pad}await ctx.waitForSignal('g_${s.id}'); // sent at +${s.sendAfterMs} ms`);
          break;
        case 'repeat':
          lines.push(
            `${pad}await this.ticker.tick({ node: '${s.id}', ticks: ${s.ticks} }); // @Repeat('100ms')`,
          );
          break;
        case 'branch':
          lines.push(
            `${pad}await this.fan({ node: '${s.id}', children: ${s.children}, each: ${s.each} }); await ctx.merge('fan');`,
          );
          break;
        case 'nested':
          lines.push(
            `${pad}await this.steps.outer('${s.id}', '${s.innerId}'); // calls steps.work inside`,
          );
          break;
        case 'set':
          lines.push(
            s.inStep
              ? `${pad}await ctx.step('st_${s.id}', () => ctx.state.set('k_${s.id}', 'v_${s.id}'));`
              : `${pad}ctx.state.set('k_${s.id}', 'v_${s.id}');`,
          );
          break;
        case 'get':
          lines.push(`${pad}ctx.state.get('${stateKey(s.ref)}'); // ${s.id}`);
          break;
        case 'throwOnce':
          lines.push(`${pad}if (firstTime('${s.id}')) throw new Error('transient');`);
          break;
      }
    }
  };
  emit(p.body, '  ');
  return `${lines.join('\n')}\n  faults: ${JSON.stringify(p.faults)}`;
}

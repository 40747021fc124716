import fc from 'fast-check';

/**
 * The versioning shape of the generative suite: a program recorded up to a `pause` timer by one
 * code version (`v1`), then resumed by another (`v2`, a deploy while the run sleeps), and what the
 * engine must do about it (see {@link expectedOutcome}). Step names are unique in a program
 * (`s1`, `s2`, …), so each call's step log is its name.
 */
export type VStmt =
  | { k: 'step'; name: string }
  /** `await Promise.all(names.map(step))`. */
  | { k: 'all'; names: string[] }
  /** `Promise.all` of sequential chains: the second call of a chain races the other chains. */
  | { k: 'chains'; chains: string[][] }
  /** A `@Branch({ automerge: true })` whose body runs `names` in order (sealed before the pause). */
  | { k: 'branch'; names: string[] }
  /** `if (ctx.patched(id)) await step(name)`. */
  | { k: 'patched'; id: string; name: string }
  /** `await ctx.sleep('1h', 'pause')`: the deploy happens while the run sleeps here. */
  | { k: 'pause' };

/** What the deploy changed. */
export type Change =
  | { k: 'none' }
  /** A recorded call (top level, `Promise.all` item, chain call or branch body call) renamed. */
  | { k: 'rename'; name: string; racing: boolean; inSealedBranch: boolean }
  /** A new step inserted before the pause, at top level. */
  | { k: 'insert'; name: string }
  /** A recorded top-level step removed. */
  | { k: 'remove'; name: string }
  /** A new step behind `ctx.patched`, before the pause. */
  | { k: 'patch'; name: string }
  /** A step after the pause renamed (never recorded: the run simply takes the new code). */
  | { k: 'after'; name: string };

export interface VProgram {
  v1: VStmt[];
  v2: VStmt[];
  change: Change;
}

/** The suffix of a renamed call. */
const RENAMED = 'r';

/** Generates a v1 body: compound statements before the pause, plain steps after it. */
function v1Arbitrary(): fc.Arbitrary<VStmt[]> {
  const shape = fc.oneof(
    fc.constant('step' as const),
    fc.integer({ min: 2, max: 3 }).map((n) => ({ all: n })),
    fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 3 }),
    fc.integer({ min: 1, max: 3 }).map((n) => ({ branch: n })),
  );
  return fc
    .record({
      before: fc.array(shape, { minLength: 1, maxLength: 5 }),
      after: fc.integer({ min: 0, max: 2 }),
    })
    .map(({ before, after }) => {
      let n = 0;
      const next = () => `s${++n}`;
      const names = (count: number) => Array.from({ length: count }, next);
      let branched = false;
      const body: VStmt[] = before.map((s): VStmt => {
        if (s === 'step') return { k: 'step', name: next() };
        if (Array.isArray(s)) return { k: 'chains', chains: s.map(names) };
        if ('all' in s) return { k: 'all', names: names(s.all) };
        if (branched) return { k: 'step', name: next() }; // one branch per program (`fan`)
        branched = true;
        return { k: 'branch', names: names(s.branch) };
      });
      body.push({ k: 'pause' });
      for (let i = 0; i < after; i++) body.push({ k: 'step', name: next() });
      return body;
    });
}

/** Every call of `stmt` with whether a rename of it races (a chain's second call or later). */
function callsOf(stmt: VStmt): Array<{ name: string; racing: boolean; branch: boolean }> {
  switch (stmt.k) {
    case 'step':
      return [{ name: stmt.name, racing: false, branch: false }];
    case 'all':
      return stmt.names.map((name) => ({ name, racing: false, branch: false }));
    case 'chains':
      return stmt.chains.flatMap((c) =>
        c.map((name, i) => ({ name, racing: i > 0, branch: false })),
      );
    case 'branch':
      return stmt.names.map((name) => ({ name, racing: false, branch: true }));
    default:
      return [];
  }
}

const renameIn = (stmt: VStmt, name: string): VStmt => {
  const r = (n: string) => (n === name ? n + RENAMED : n);
  if (stmt.k === 'step') return { ...stmt, name: r(stmt.name) };
  if (stmt.k === 'all' || stmt.k === 'branch') return { ...stmt, names: stmt.names.map(r) };
  if (stmt.k === 'chains') return { ...stmt, chains: stmt.chains.map((c) => c.map(r)) };
  return stmt;
};

/** A program: a v1 body and one change of it (the deploy). */
export function programArbitrary(): fc.Arbitrary<VProgram> {
  return v1Arbitrary().chain((v1) => {
    const pause = v1.findIndex((s) => s.k === 'pause');
    const before = v1.slice(0, pause);
    const calls = before.flatMap(callsOf);
    const tops = before.filter((s): s is Extract<VStmt, { k: 'step' }> => s.k === 'step');
    const afters = v1.slice(pause + 1) as Array<Extract<VStmt, { k: 'step' }>>;
    const kinds = ['none', 'rename', 'insert', 'patch'] as const;
    const options = [...kinds, ...(tops.length ? ['remove' as const] : [])];
    return fc
      .record({
        kind: fc.constantFrom(...options, ...(afters.length ? ['after' as const] : [])),
        at: fc.nat({ max: 1000 }),
      })
      .map(({ kind, at }): VProgram => {
        const insertAt = at % (pause + 1);
        const insert = (stmt: VStmt) => [...v1.slice(0, insertAt), stmt, ...v1.slice(insertAt)];
        switch (kind) {
          case 'rename': {
            const call = calls[at % calls.length];
            const change = {
              k: 'rename' as const,
              name: call.name,
              racing: call.racing,
              inSealedBranch: call.branch,
            };
            return { v1, v2: v1.map((s, i) => (i < pause ? renameIn(s, call.name) : s)), change };
          }
          case 'insert':
            return {
              v1,
              v2: insert({ k: 'step', name: 'ins' }),
              change: { k: 'insert', name: 'ins' },
            };
          case 'patch':
            return {
              v1,
              v2: insert({ k: 'patched', id: 'p', name: 'pat' }),
              change: { k: 'patch', name: 'pat' },
            };
          case 'remove': {
            const gone = tops[at % tops.length].name;
            const v2 = v1.filter((s) => !(s.k === 'step' && s.name === gone));
            return { v1, v2, change: { k: 'remove', name: gone } };
          }
          case 'after': {
            const name = afters[at % afters.length].name;
            const v2 = v1.map((s, i) => (i > pause ? renameIn(s, name) : s));
            return { v1, v2, change: { k: 'after', name } };
          }
          default:
            return { v1, v2: v1, change: { k: 'none' } };
        }
      });
  });
}

/** Results of `stmts` run from the top with no patch taken (an old run), in `await` order. */
export function resultOf(stmts: VStmt[]): string[] {
  return stmts.flatMap((s) => {
    if (s.k === 'step') return [s.name];
    if (s.k === 'all') return s.names;
    if (s.k === 'chains') return s.chains.flat();
    return [];
  });
}

/** Step bodies of `stmts` (branch bodies included, patched steps not). */
export function bodiesOf(stmts: VStmt[]): string[] {
  return stmts.flatMap((s) => (s.k === 'branch' ? s.names : resultOf([s])));
}

/** What the reference model says a run of `p` ends as. */
export type Outcome =
  | { state: 'completed'; result: string[]; bodies: string[] }
  /** Stalled with a NonDeterminismError naming `names`; only `mayRun` bodies ran, each once. */
  | { state: 'stalled'; names: string[]; mayRun: string[] };

/**
 * The reference model: a change of the recorded part (rename, insert, remove before the pause)
 * stalls the run with a `NonDeterminismError` naming the calls (a renamed racing call's body may
 * have run once before it was caught; no other new body runs, nor any call after the pause);
 * anything else completes: no change, a patch (an old run does not take it), a rename inside the
 * sealed branch's body (its body does not run again), a change after the pause (never recorded).
 */
export function expectedOutcome(p: VProgram): Outcome {
  const pause = p.v1.findIndex((s) => s.k === 'pause');
  const recorded = bodiesOf(p.v1.slice(0, pause));
  const c = p.change;
  const diverges = (c.k === 'rename' && !c.inSealedBranch) || c.k === 'insert' || c.k === 'remove';
  if (!diverges) {
    const v2Pause = p.v2.findIndex((s) => s.k === 'pause');
    const after = p.v2.slice(v2Pause + 1);
    return {
      state: 'completed',
      result: [...resultOf(p.v1.slice(0, pause)), ...resultOf(after)],
      bodies: [...recorded, ...bodiesOf(after)],
    };
  }
  if (c.k === 'rename')
    return {
      state: 'stalled',
      names: [`(step$${c.name})`, `(step$${c.name}${RENAMED})`],
      mayRun: [...recorded, ...(c.racing ? [c.name + RENAMED] : [])],
    };
  return { state: 'stalled', names: [`(step$${c.name})`], mayRun: recorded };
}

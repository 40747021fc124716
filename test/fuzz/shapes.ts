import fc from 'fast-check';
import { numberProgram, plainProgramArb, sometimes } from './generators.js';
import {
  type Program,
  type ShapeSwitches,
  SQL_FAULT_KINDS,
  type StepVia,
  type Stmt,
} from './program.js';

/**
 * The shapes that make the engine's group-committed statements carry several runs, and two passes
 * of one run. Arbitrary programs under the given switches: about a tenth each of `lease`, `burst`
 * and `takeover` programs (see below).
 */
export function programArb(sw: ShapeSwitches): fc.Arbitrary<Program> {
  return fc.oneof(
    { weight: 8, arbitrary: plainProgramArb(sw) },
    { weight: 1, arbitrary: burstProgramArb(sw) },
    ...(sw.lease ? [{ weight: 1, arbitrary: leaseProgramArb(sw) }] : []),
    ...(sw.takeover ? [{ weight: 1, arbitrary: takeoverProgramArb() }] : []),
  );
}

/**
 * The programs of one batch: mixed (6 in 9; takeover programs among them); only burst programs (2
 * in 9), or only lease programs (1 in 9), so that many runs write at the same moments: their
 * checkpoints, acquires and completions — and a taken-over pass's beside its successor's — go in
 * multi-row statements.
 */
export function batchArb(sw: ShapeSwitches, batchSize: number): fc.Arbitrary<Program[]> {
  const batch = (arb: fc.Arbitrary<Program>, most: number) =>
    fc.array(arb, { minLength: 1, maxLength: Math.min(batchSize, most), size: 'max' });
  return fc.oneof(
    { weight: 6, arbitrary: batch(programArb(sw), batchSize) },
    { weight: 2, arbitrary: batch(burstProgramArb(sw), 40) },
    ...(sw.lease ? [{ weight: 1, arbitrary: batch(leaseProgramArb(sw), 25) }] : []),
  );
}

/**
 * How long a takeover program's first bodies wait for a successor pass at most (ms): a 250 ms
 * lease, then a recovery sweep (every 500 ms) and the successor's acquire and replay.
 */
const TAKEOVER_WAIT_MS = 1500;

/**
 * `takeover` programs (`fuzz.lease`: a 250 ms lock lifetime): a `Promise.all` of three or four
 * racing steps (`StepNode.race`), then quick steps. The recovery sweep hands the run to a new pass
 * while the first one is still in those bodies; the new pass finds no log and runs them again, and
 * each pass's body ends with the successor's: the stale pass's checkpoints and its successor's
 * (and those of the batch's other runs taken over by the same sweep) are in flight at the same
 * moment, while the successor's lock is fresh. Group commit writes them in multi-row statements
 * that carry a stale pass's checkpoint of a step beside the owner's of the same step: only the
 * owner's may land, and the stale pass must end there (commit 1161c9d: a stale pass was handed the
 * owner's log id and ran the next bodies; checkpoint-answers.ts checks it).
 */
function takeoverProgramArb(): fc.Arbitrary<Program> {
  const slow = fc.record({
    k: fc.constant('step' as const),
    id: fc.constant(''),
    via: fc.constantFrom<StepVia>('decorated', 'inline'),
    flaky: fc.constant(0),
    ms: fc.constant(TAKEOVER_WAIT_MS),
    race: fc.constant(true),
  });
  // NOTE: three or four racing steps: the stale pass's and its successor's checkpoints of them
  // are written at one moment; two go alone (the group commit's slots), the others wait and go
  // together, and whichever order they come in, one step's two checkpoints are among those.
  const first = fc.record({
    k: fc.constant('all' as const),
    id: fc.constant(''),
    items: fc.array(slow, { minLength: 3, maxLength: 4 }),
  });
  const quick = fc.record({
    k: fc.constant('step' as const),
    id: fc.constant(''),
    via: fc.constantFrom<StepVia>('decorated', 'inline', 'tx'),
    flaky: fc.constant(0),
    ms: fc.constantFrom(0, 20),
  });
  return fc
    .record({
      body: fc
        .tuple(first, fc.array(quick, { minLength: 1, maxLength: 3 }))
        .map(([head, rest]): Stmt[] => [head, ...rest]),
      faults: fc.record({
        cancelAfterMs: fc.constant(null),
        resumeAfterMs: sometimes(fc.integer({ min: 0, max: 1500 }), 20),
        sql: fc.constant(null),
        retryAfterMs: fc.constant(0),
      }),
      saga: fc.constant(false),
      lease: fc.constant(true),
    })
    .map(numberProgram);
}

/**
 * Short programs that start, and later wake and end, at the same moments as the batch's other
 * burst programs: quick steps that end on a 100 ms tick (first attempts checkpointed together),
 * maybe a signal all of them get 500 ms after the start, a last such step, and the run completes
 * (completions of runs with no parent, and acquires, group-committed together). Some batches
 * are made of them only (see batchArb).
 */
function burstProgramArb(sw: ShapeSwitches): fc.Arbitrary<Program> {
  const quick = fc.record({
    k: fc.constant('step' as const),
    id: fc.constant(''),
    via: fc.constantFrom<StepVia>('decorated', 'inline', 'decorated', 'inline', 'tx'),
    flaky: fc.constant(0),
    ms: fc.constant(1),
    align: fc.constant(100),
  });
  const signal = fc.record({
    k: fc.constant('signal' as const),
    id: fc.constant(''),
    sendAfterMs: fc.constant(500),
  });
  const sqlKinds = SQL_FAULT_KINDS.filter((k) => k !== 'unlock' || sw.sqlUnlock);
  return fc
    .record({
      body: fc
        .tuple(fc.array(quick, { minLength: 1, maxLength: 3 }), fc.option(signal), quick)
        .map(([before, wait, last]): Stmt[] => [...before, ...(wait ? [wait] : []), last]),
      faults: fc.record({
        cancelAfterMs: fc.constant(null),
        resumeAfterMs: fc.constant(null),
        sql: sw.sql
          ? fc.option(
              fc.record({
                kind: fc.constantFrom(...sqlKinds),
                nth: fc.integer({ min: 1, max: 3 }),
              }),
              { freq: 3 },
            )
          : fc.constant(null),
        retryAfterMs: fc.constant(0),
      }),
    })
    .map(numberProgram);
}

/**
 * `fuzz.lease` programs (a 250 ms lock lifetime): slow steps of every kind (transactional ones
 * too), `Promise.all`s and loops of them, sleeps, so a pass outlives its lease and a new pass takes
 * the run over while the stale one still runs bodies and writes checkpoints.
 */
function leaseProgramArb(sw: ShapeSwitches): fc.Arbitrary<Program> {
  const ms = fc.integer({ min: 100, max: 350 });
  const flaky = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.constant(1));
  const step = fc.record({
    k: fc.constant('step' as const),
    id: fc.constant(''),
    via: fc.constantFrom<StepVia>('decorated', 'inline', 'tx', 'tx'),
    flaky,
    ms,
    align: fc.oneof({ weight: 3, arbitrary: fc.constant(250) }, fc.constant(0)),
  });
  const stmt = fc.oneof(
    { weight: 6, arbitrary: step as fc.Arbitrary<Stmt> },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('all' as const),
        id: fc.constant(''),
        items: fc.array(step, { minLength: 2, maxLength: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('loop' as const),
        id: fc.constant(''),
        count: fc.integer({ min: 2, max: 4 }),
        ms: fc.integer({ min: 60, max: 150 }),
        guard: fc.constant(false),
        tx: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constantFrom('sleep' as const, 'wakeMiss' as const),
        id: fc.constant(''),
        ms: fc.integer({ min: 20, max: 250 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constantFrom('set' as const, 'attr' as const),
        id: fc.constant(''),
        inStep: fc.boolean(),
      }),
    },
  );
  const sqlKinds = SQL_FAULT_KINDS.filter((k) => k !== 'unlock' || sw.sqlUnlock);
  return fc
    .record({
      body: fc.array(stmt, { minLength: 3, maxLength: 5 }),
      faults: fc.record({
        cancelAfterMs: sw.cancel
          ? sometimes(fc.integer({ min: 0, max: 1500 }), 30)
          : fc.constant(null),
        resumeAfterMs: sometimes(fc.integer({ min: 0, max: 1000 }), 30),
        sql: sw.sql
          ? fc.option(
              fc.record({
                kind: fc.constantFrom(...sqlKinds),
                nth: fc.integer({ min: 1, max: 4 }),
              }),
              { freq: 3 },
            )
          : fc.constant(null),
        retryAfterMs: fc.constant(0),
      }),
      saga: fc.constant(false),
      lease: fc.constant(true),
    })
    .map(numberProgram);
}

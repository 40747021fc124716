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
  /**
   * Ends `ms` after the node's first body started, rounded up to a multiple of `align` ms of the
   * clock (concurrent bodies of the batch, and of a taken-over pass and its successor, end and
   * checkpoint together).
   */
  align?: number;
  /**
   * Ends with its successor (takeover programs, shapes.ts): the body waits until a second pass
   * started the node's body (a takeover while this one ran), at most `ms` after the first start,
   * then ends {@link RACE_LAG_MS} after that second start, as the successor's body does: both
   * passes' checkpoints of the step are in flight at once (the stale pass polls for the second
   * start, and may learn of it late in a busy batch), while the successor's lock is fresh (no
   * third pass takes it meanwhile). A stale pass whose abort watcher (a 500 ms poll) sees the lock
   * gone before that writes nothing: some takeovers are lost so.
   */
  race?: boolean;
}

/** How long after its successor's start a racing step's bodies end (ms). */
export const RACE_LAG_MS = 100;

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
  /** Transactional steps (`txWork`): back to back, each COMMIT begins the next one's transaction. */
  tx?: boolean;
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

/**
 * `ctx.sleep(ms, 'z_<id>')` preceded by workflow code that throws a transient error the second time
 * it gets here: the pass that wakes the run (whose acquire may have completed the sleep) does not
 * reach the sleep, so the engine must put it back; a later pass completes it again.
 */
export interface WakeMissNode {
  k: 'wakeMiss';
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

/** `ctx.call('fuzz.child', …)`: one child run whose result the call returns. */
export interface CallNode {
  k: 'call';
  id: string;
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

/** `ctx.setAttributes({ a_<id>: 'v_<id>' })`, in workflow code or (`inStep`) inside a `ctx.step` body. */
export interface AttrNode {
  k: 'attr';
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

/**
 * `ctx.step('l_<id>', body, { limit: { name, key } })` under a named limit shared by every run of
 * the batch (FUZZ_LIMITS): `conc` a per-key semaphore, `rate` a per-key rate. `key` picks one of
 * {@link LIMIT_KEYS} keys, so runs contend. The body records its start and end (limit-ledger).
 */
export interface LimitedNode {
  k: 'limited';
  id: string;
  limit: 'conc' | 'rate';
  key: number;
  ms: number;
}

/**
 * `ctx.once('o<key>', '1h', () => this.steps.work(<id>))`: of all the batch's once nodes with the
 * same key, exactly one run claims the period and runs the body (at most once without a fault);
 * the others skip it.
 */
export interface OnceNode {
  k: 'once';
  id: string;
  key: number;
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
  | WakeMissNode
  | SignalNode
  | RepeatNode
  | BranchNode
  | CallNode
  | NestedNode
  | SetNode
  | AttrNode
  | GetNode
  | LimitedNode
  | OnceNode
  | ThrowOnceNode;

/** A program and the faults applied to its run. */
export interface Program {
  body: Stmt[];
  faults: Faults;
  /**
   * Run under `fuzz.saga`: every plain step (and `Promise.all` item) has a compensation whose body
   * writes ledger node `<id>.undo`, and the run rolls back when it stalls or is cancelled (rather
   * than wait for the driver's fix), undoing its completed steps, last completed first.
   */
  saga?: boolean;
  /**
   * Run under `fuzz.lease` (a 250 ms lock lifetime, see lease.fixture.ts): its slow steps make a
   * pass outlive its lease, so a recovery sweep hands the run to a new pass while the stale one is
   * still running (two passes of the run write at once, in one group-committed statement too).
   */
  lease?: boolean;
}

/**
 * The statement kinds of the database fault trigger (see db-faults.ts); `commit` fails the COMMIT
 * of the transaction that wrote a completed step log (a deferred trigger).
 */
export const SQL_FAULT_KINDS = [
  'lock',
  'unlock',
  'wf',
  'log.insert',
  'log.update',
  'signal',
  'commit',
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

/** Shapes that are switched on (FUZZ_SHAPES); some hit known issue-15 items (see workers.ts `shapeSwitches`). */
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
  /** Sagas (issue 18): compensated steps, rolled back on a stall or a cancel. */
  saga: boolean;
  /** Flow control (issue 17): steps under per-key concurrency and rate limits, `ctx.once`. */
  limits: boolean;
  /** `fuzz.lease` programs: passes outlive their 250 ms lease and are taken over while running. */
  lease: boolean;
  /**
   * Takeover programs (shapes.ts): passes taken over inside racing first steps, the stale pass's
   * checkpoints of them and its successor's written in one multi-row statement.
   */
  takeover: boolean;
}

/** Keys each limit and once of the fuzz programs spreads over (per batch). */
export const LIMIT_KEYS = 3;

/**
 * The named limits of the fuzz apps (in process and worker processes). Bodies of a limited node
 * take 0–120 ms, so the semaphore's 2 slots are contended; the rate window is 1 s (its guard,
 * 50 ms, absorbs the delay between a grant and its body's start).
 */
export const FUZZ_LIMITS = {
  'fuzz.conc': { concurrency: 2 },
  'fuzz.rate': { rate: { limit: 3, per: '1s' } },
} as const;

/** Step budget (`maxAttempts`) of the fuzz workflows' steps. */
export const STEP_ATTEMPTS = 3;

/** The state key a get node reads. */
export function stateKey(ref: string): string {
  return ref.startsWith('raw:') ? ref.slice(4) : `k_${ref}`;
}

/** Whether any node of the program satisfies `pred` (depth first). */
export function someNode(body: Stmt[], pred: (s: Stmt) => boolean): boolean {
  return body.some((s) => pred(s) || (s.k === 'try' && someNode(s.body, pred)));
}

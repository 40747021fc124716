import type { WorkflowStore } from '../../lib/persistence/workflow.store.js';

/** What the multi-row statements of one group-committed kind carried. */
interface KindStats {
  /** Multi-row statements sent (a group of one is written alone and not counted). */
  statements: number;
  /** Items they carried. */
  items: number;
  /** Multi-row statements that failed (each item then written again alone). */
  failed: number;
  /** Statements carrying one run twice (two passes' items, or two of one pass's). */
  sameRun: number;
  /** Statements carrying one run for two different passes (a stale pass beside the owner). */
  twoPasses: number;
  /** Largest statement. */
  widest: number;
}

const kind = (): KindStats => ({
  statements: 0,
  items: 0,
  failed: 0,
  sameRun: 0,
  twoPasses: 0,
  widest: 0,
});

/**
 * Group commit as the suite exercised it (printed with the stats at the end of a fuzz run): per
 * kind, the multi-row statements the in-process engine sent; the sleeps its acquires completed
 * (wake at acquire) and those it put back because the replay did not reach them.
 */
export const groupStats = {
  checkpoints: kind(),
  acquires: kind(),
  completions: kind(),
  starts: kind(),
  wokenAtAcquire: 0,
  putBack: 0,
  /** Acquires that failed (an injected fault on the lock or a sleep it completes), put-backs too. */
  acquireFailed: 0,
  putBackFailed: 0,
  /** Completions of runs with no parent (the group-committed kind), alone or not. */
  parentless: 0,
  /**
   * Multi-row checkpoint statements carrying one step of one run for two passes (a stale pass and
   * its successor: shapes.ts `takeover`), and those of them where one of the two landed (the
   * owner's log written beside the stale pass's refused one: commit 1161c9d's case).
   */
  oneStepTwice: { statements: 0, landed: 0 },
  /** Logs read again after an acquire that took a lock over (see `acquired`). */
  relogs: 0,
};

/** Counts {@link groupStats.oneStepTwice} of one multi-row checkpoint statement. */
function countOneStepTwice(list: Item[], results: unknown[]): void {
  const steps = new Map<string, { owners: Set<unknown>; ids: number }>();
  list.forEach((i, n) => {
    const k = `${String(i.workflowId)}\0${String(i.stepName)}`;
    const step = steps.get(k) ?? { owners: new Set(), ids: 0 };
    step.owners.add(i.owner);
    if (typeof results[n] === 'string') step.ids++;
    steps.set(k, step);
  });
  const twice = [...steps.values()].filter((s) => s.owners.size > 1);
  if (twice.length > 0) groupStats.oneStepTwice.statements++;
  if (twice.some((s) => s.ids > 0)) groupStats.oneStepTwice.landed++;
}

type Item = Record<string, unknown>;

/** The store's multi-row writer of each kind, and how its items name their run and pass. */
const WRITERS = [
  ['insertCheckpoints', 'checkpoints', 'workflowId', 'owner'],
  ['acquireMany', 'acquires', 'id', 'owner'],
  ['completeMany', 'completions', 'id', 'owner'],
  ['insertNewRuns', 'starts', 'key', 'jobName'],
] as const;

/**
 * Counts, on the booted app's store, what {@link groupStats} reports. The store's own methods run
 * as they are (each wrapper calls through and rethrows); only their calls and results are counted.
 */
export function countGroupCommits(store: WorkflowStore): void {
  // NOTE: the multi-row writers live on the store's GroupWrites (protected `groups`), whose group
  // commits call them through `this` at each write: wrapping the instance's methods counts them.
  const groups = (store as unknown as { groups: object }).groups;
  const methods = groups as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [method, name, run, pass] of WRITERS) {
    const write = methods[method].bind(groups);
    methods[method] = async (items: unknown) => {
      const list = items as Item[];
      const st = groupStats[name];
      st.statements++;
      st.items += list.length;
      st.widest = Math.max(st.widest, list.length);
      const passes = new Map<unknown, Set<unknown>>();
      for (const i of list) passes.set(i[run], (passes.get(i[run]) ?? new Set()).add(i[pass]));
      if (passes.size < list.length) st.sameRun++;
      if ([...passes.values()].some((p) => p.size > 1)) st.twoPasses++;
      try {
        const results = await write(items);
        if (name === 'checkpoints') countOneStepTwice(list, results as unknown[]);
        return results;
      } catch (err) {
        st.failed++;
        throw err;
      }
    };
  }
  const query = (groups as { query: (text: string, ...rest: unknown[]) => Promise<unknown> }).query;
  (groups as { query: typeof query }).query = async (text, ...rest) => {
    if (text.includes('AS r(id)')) groupStats.relogs++;
    return query(text, ...rest);
  };
  const complete = store.complete.bind(store);
  store.complete = async (...args: Parameters<WorkflowStore['complete']>) => {
    if (args[5] === false) groupStats.parentless++;
    return complete(...args);
  };
  const acquire = store.acquire.bind(store);
  store.acquire = async (...args: Parameters<WorkflowStore['acquire']>) => {
    const got = await acquire(...args).catch((err: unknown) => {
      groupStats.acquireFailed++;
      throw err;
    });
    if (got.kind === 'acquired') groupStats.wokenAtAcquire += got.woken.length;
    return got;
  };
  const unwake = store.unwake.bind(store);
  store.unwake = async (...args: Parameters<WorkflowStore['unwake']>) => {
    const done = await unwake(...args).catch((err: unknown) => {
      groupStats.putBackFailed++;
      throw err;
    });
    groupStats.putBack += args[2].length;
    return done;
  };
}

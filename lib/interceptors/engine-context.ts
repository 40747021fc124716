import type { AsyncLocalStorage } from 'node:async_hooks';
import { attemptSignal } from '../lifecycle/abort-signals.js';
import { branchStorage, stepStorage, transactionStorage } from '../run/call-storage.js';
import { runStorage } from '../run/run-scope.js';

type Store = AsyncLocalStorage<unknown>;

/** The engine's async-local stores a step body reads (its run, step, branch, transaction, signal). */
const STORES = [
  runStorage,
  stepStorage,
  branchStorage,
  transactionStorage,
  attemptSignal,
] as Store[];

/**
 * Captures the engine's stores of the current async context and returns a function that runs
 * `work` with them restored, whatever context it is called from, keeping every other store (such
 * as a CLS context an interceptor opened). An interceptor may call `next()` from elsewhere (a
 * throttling queue's drain): the body must still run as its own step of its own run.
 */
export function engineContext(): <T>(work: () => T) => T {
  const captured = STORES.map((store) => store.getStore());
  return <T>(work: () => T): T =>
    STORES.reduceRight<() => T>(
      (inner, store, i) => () =>
        captured[i] === undefined ? store.exit(inner) : store.run(captured[i], inner),
      work,
    )();
}

import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';

/**
 * Set while a step body runs: steps nested inside it are plain calls, and timers, signal waits,
 * spawns and merges are refused (`DurableCallInStepError`).
 */
export const stepStorage = new AsyncLocalStorage<string>();

/** The branch whose body is running in the current async call chain. */
export interface BranchFrame {
  name: string;
  logId: string;
  cursors: Record<string, unknown>;
}

/** Set while a `@Branch()` body runs. */
export const branchStorage = new AsyncLocalStorage<BranchFrame>();

/** The EntityManager of the transactional step running in the current async call chain. */
export const transactionStorage = new AsyncLocalStorage<EntityManager>();

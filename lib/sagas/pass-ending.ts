/** How a pass taken over by the sagas layer ends, with the executor's own machinery. */
export interface PassEnding {
  /** Runs a statement that ends the pass until it goes through (or the lock is lost). */
  settle<T>(write: () => Promise<T>): Promise<T>;
  /** After the lock is released: the pass's after-release actions, then its continuation. */
  afterRelease(nextRunAt: Date | null): Promise<void>;
}

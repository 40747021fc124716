import { COMPLETE_LABELS, type PgCounter } from './pg-counter.js';

/** Rejects when `p` takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run completions seen on the engine's pool (its `complete` statement returning a row). */
export class Completions {
  /** Run id → `performance.now()` when its `complete` statement returned. */
  readonly at = new Map<string, number>();
  private waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  constructor(counter: PgCounter) {
    counter.on((e) => {
      if (!COMPLETE_LABELS.has(e.label) || e.rowCount === 0) return;
      for (const id of e.runIds) this.at.set(id, e.end);
      this.waiters = this.waiters.filter((w) => (w.ready() ? (w.resolve(), false) : true));
    });
  }

  /** Resolves once `n` runs have completed in total. */
  waitFor(n: number, timeoutMs: number): Promise<void> {
    return this.until(() => this.at.size >= n, timeoutMs, `${n} completed runs`);
  }

  /** Resolves with the completion time of run `id`. */
  async waitRun(id: string, timeoutMs: number): Promise<number> {
    await this.until(() => this.at.has(id), timeoutMs, `completion of run ${id}`);
    return this.at.get(id) as number;
  }

  private until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ ready, resolve }));
    return within(p, timeoutMs, `${what} (have ${this.at.size})`);
  }
}

/** Counts events (e.g. finished baseline jobs) and lets a caller wait for a total. */
export class Tally {
  count = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  hit(): void {
    this.count++;
    this.waiters = this.waiters.filter((w) => (this.count >= w.n ? (w.resolve(), false) : true));
  }

  waitFor(n: number, timeoutMs: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
    return within(p, timeoutMs, `${n} events (have ${this.count})`);
  }
}

/**
 * A {@link GroupWriter.many} result for an item the statement did not write because its row was
 * locked by another transaction (the statement skips such rows rather than wait while holding
 * other rows' locks, which could deadlock): the item is then written alone, waiting as it always did.
 */
export const ALONE: unique symbol = Symbol('group-commit.alone');

/** How a {@link GroupCommit} writes: one item, or several in one statement. */
export interface GroupWriter<I, R> {
  /**
   * Writes one item. `retried`: a multi-row statement that carried the item failed, and may in
   * fact have committed (its reply lost): the item's row may already be this caller's own write.
   */
  one(item: I, retried: boolean): Promise<R>;
  /**
   * Writes several in one statement (all or none commit); per item, in order, its result, or
   * {@link ALONE} to write that item alone.
   */
  many(items: I[]): Promise<(R | typeof ALONE)[]>;
}

/** At most this many items go into one statement. */
export const MAX_GROUP = 64;

/**
 * A statement running longer than this is taken to be waiting, and its slot is given to the next
 * group (see `GroupCommit`); engine statements take a few milliseconds.
 */
export const SLOW_STATEMENT_MS = 250;

/** A slot a statement holds (see `GroupCommit.take`). */
interface HeldSlot {
  /** `performance.now()` when it was taken. */
  readonly since: number;
  /** Gives it back (once; later calls do nothing). */
  free(): void;
}

interface Waiter<I, R> {
  item: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Group commit of one kind of statement issued by concurrent callers (first-attempt checkpoints of
 * concurrent passes, starts of concurrent callers): while `slots` such statements are already
 * running, a new item waits, and the waiting ones are written together in one multi-row statement
 * when a running one returns — one round trip and one commit instead of many. An item that finds a
 * free slot is written at once, alone: nothing waits for company, so a lone caller pays nothing. A
 * statement waiting on a lock gives its slot up after {@link SLOW_STATEMENT_MS}; the items a
 * statement left ({@link ALONE}) or that a failed one carried are written alone outside the slots.
 *
 * A multi-row statement is atomic: when it fails (a fault on one item's row, a deadlock with a bulk
 * update, a dropped connection), nothing it carried is known to be written, and each item is
 * written again alone, so one item's failure never becomes another's. `one` must therefore accept
 * an item a failed multi-row statement may in fact have committed (its reply lost): the writers
 * here treat an existing row as "already there", as they do for a concurrent writer's.
 */
export class GroupCommit<I, R> {
  private readonly waiting: Waiter<I, R>[] = [];
  /** The slots taken and not given back (by their statement or by the watchdog): those in flight. */
  private readonly held = new Set<HeldSlot>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly writer: GroupWriter<I, R>,
    private readonly slots: number,
  ) {}

  /**
   * Writes `item`, alone or with others. `alone`: how to write it when it goes alone at once
   * (default: the writer's `one`), e.g. on a connection the caller keeps.
   */
  write(item: I, alone?: () => Promise<R>): Promise<R> {
    if (this.held.size < this.slots && this.waiting.length === 0) return this.alone(item, alone);
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
    });
  }

  private async alone(item: I, write?: () => Promise<R>): Promise<R> {
    const free = this.take();
    try {
      return await (write ? write() : this.writer.one(item, false));
    } finally {
      free();
    }
  }

  /**
   * Takes a slot; the function returned gives it back (once). A statement still running after
   * {@link SLOW_STATEMENT_MS} gives it back early: it is waiting (on a row another transaction
   * holds, or for a connection), and the callers queued behind it must not wait with it — two
   * statements stuck on one long transaction would otherwise hold up every write of their kind.
   */
  private take(): () => void {
    const slot: HeldSlot = {
      since: performance.now(),
      free: () => {
        if (!this.held.delete(slot)) return;
        this.drain();
      },
    };
    this.held.add(slot);
    // NOTE: one watchdog timer for all held slots, not one per statement: a timer made and cleared
    // around every checkpoint was ~5 µs of a step's critical path (issue #22).
    this.watchdog ??= this.arm(SLOW_STATEMENT_MS);
    return slot.free;
  }

  /** The watchdog: frees the slots held for {@link SLOW_STATEMENT_MS}, re-armed for the others. */
  private arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      // NOTE: `watchdog` still set while slots are freed: the statements they start (`drain`)
      // take slots without arming another timer; the one armed below covers them too.
      const now = performance.now();
      for (const slot of [...this.held]) if (now - slot.since >= SLOW_STATEMENT_MS) slot.free();
      this.watchdog = undefined;
      let next = Infinity;
      const later = performance.now();
      for (const slot of this.held) next = Math.min(next, SLOW_STATEMENT_MS - (later - slot.since));
      if (next !== Infinity) this.watchdog = this.arm(Math.max(1, next));
    }, ms);
    timer.unref?.();
    return timer;
  }

  /** Starts the next statement for the waiting items while a slot is free. */
  private drain(): void {
    while (this.waiting.length > 0 && this.held.size < this.slots) {
      const group = this.waiting.splice(0, MAX_GROUP);
      void this.flush(group, this.take());
    }
  }

  /** Writes `group` (holding a slot until `free`), then alone any item the statement left. */
  private async flush(group: Waiter<I, R>[], free: () => void): Promise<void> {
    const one = (w: Waiter<I, R>, retried: boolean) =>
      this.writer.one(w.item, retried).then(w.resolve, w.reject);
    if (group.length === 1) return void (await one(group[0], false).finally(free));
    let results: (R | typeof ALONE)[];
    try {
      results = await this.writer.many(group.map((w) => w.item));
    } catch {
      free();
      // Written again one by one, each failing (or not) on its own.
      return void (await Promise.all(group.map((w) => one(w, true))));
    }
    free();
    // NOTE: the items written alone (their rows were held) wait outside the slots.
    const alone: Promise<void>[] = [];
    group.forEach((w, i) => {
      const result = results[i];
      if (result === ALONE) alone.push(one(w, false));
      else w.resolve(result);
    });
    await Promise.all(alone);
  }
}

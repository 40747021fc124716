/** How a {@link GroupCommit} writes: one item, or several in one statement. */
export interface GroupWriter<I, R> {
  /** Writes one item. */
  one(item: I): Promise<R>;
  /** Writes several in one statement (all or none commit); per item, in order, its result. */
  many(items: I[]): Promise<R[]>;
}

/** At most this many items go into one statement. */
export const MAX_GROUP = 64;

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
 * free slot is written at once, alone: there is no timer, so a lone caller pays nothing.
 *
 * A multi-row statement is atomic: when it fails (a fault on one item's row, a deadlock with a bulk
 * update, a dropped connection), nothing it carried is known to be written, and each item is
 * written again alone, so one item's failure never becomes another's. `one` must therefore accept
 * an item a failed multi-row statement may in fact have committed (its reply lost): the writers
 * here treat an existing row as "already there", as they do for a concurrent writer's.
 */
export class GroupCommit<I, R> {
  private readonly waiting: Waiter<I, R>[] = [];
  private inFlight = 0;

  constructor(
    private readonly writer: GroupWriter<I, R>,
    private readonly slots: number,
  ) {}

  /**
   * Writes `item`, alone or with others. `alone`: how to write it when it goes alone (default: the
   * writer's `one`), e.g. on a connection the caller keeps.
   */
  write(item: I, alone?: () => Promise<R>): Promise<R> {
    if (this.inFlight < this.slots && this.waiting.length === 0)
      return this.alone(alone ?? (() => this.writer.one(item)));
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
    });
  }

  private async alone(write: () => Promise<R>): Promise<R> {
    this.inFlight++;
    try {
      return await write();
    } finally {
      this.inFlight--;
      this.drain();
    }
  }

  /** Starts the next statement for the waiting items while a slot is free. */
  private drain(): void {
    while (this.waiting.length > 0 && this.inFlight < this.slots) {
      const group = this.waiting.splice(0, MAX_GROUP);
      this.inFlight++;
      void this.flush(group).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async flush(group: Waiter<I, R>[]): Promise<void> {
    const each = () =>
      Promise.all(group.map((w) => this.writer.one(w.item).then(w.resolve, w.reject)));
    if (group.length === 1) return void (await each());
    let results: R[];
    try {
      results = await this.writer.many(group.map((w) => w.item));
    } catch {
      // Written again one by one, each failing (or not) on its own.
      return void (await each());
    }
    group.forEach((w, i) => w.resolve(results[i]));
  }
}

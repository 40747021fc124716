/** One first-attempt checkpoint waiting to be written (see {@link CheckpointBatcher}). */
export interface PendingCheckpoint {
  workflowId: string;
  owner: string;
  stepName: string;
  attempts: number;
  /** The stored result as JSON text, or `null`. */
  result: string | null;
  /** The step's metadata as JSON text. */
  metadata: string;
  startedAt: Date;
}

/** How a {@link CheckpointBatcher} writes: one checkpoint, or several in one statement. */
export interface CheckpointWriter {
  /** Writes one checkpoint; its log id, or `null` when refused (fence, or already recorded). */
  one(item: PendingCheckpoint): Promise<string | null>;
  /**
   * Writes several in one statement (all or none commit); per item (same order), its log id or
   * `null` when refused.
   */
  many(items: PendingCheckpoint[]): Promise<(string | null)[]>;
}

/** At most this many checkpoints go into one statement. */
export const MAX_BATCH = 64;

interface Waiter {
  item: PendingCheckpoint;
  resolve(id: string | null): void;
  reject(err: unknown): void;
}

/**
 * Group commit of first-attempt step checkpoints of concurrent passes: while `maxInFlight` checkpoint
 * statements are already running, a new checkpoint waits, and the waiting ones are written together
 * in one multi-row statement when a running one returns (one round trip and one commit instead of
 * many). A checkpoint that finds a free slot is written at once, alone: no timer, so a lone pass
 * (concurrency 1) pays nothing.
 *
 * A multi-row statement is atomic: when it fails (a fault on one run's row, a deadlock with a bulk
 * update, a dropped connection), nothing it carried is known to be written, and each checkpoint is
 * written again alone, so one run's failure never becomes another's (a first attempt that did commit
 * is then refused as already recorded, which the step runner resolves as it always did).
 */
export class CheckpointBatcher {
  private readonly waiting: Waiter[] = [];
  private inFlight = 0;

  constructor(
    private readonly writer: CheckpointWriter,
    private readonly maxInFlight: number,
  ) {}

  /** Writes `item`, alone or with others; its log id, or `null` when refused. */
  write(item: PendingCheckpoint): Promise<string | null> {
    if (this.inFlight < this.maxInFlight && this.waiting.length === 0) return this.alone(item);
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
    });
  }

  private async alone(item: PendingCheckpoint): Promise<string | null> {
    this.inFlight++;
    try {
      return await this.writer.one(item);
    } finally {
      this.inFlight--;
      this.drain();
    }
  }

  /** Starts the next statement for the waiting checkpoints while a slot is free. */
  private drain(): void {
    while (this.waiting.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async flush(batch: Waiter[]): Promise<void> {
    if (batch.length === 1) {
      const [w] = batch;
      await this.writer.one(w.item).then(w.resolve, w.reject);
      return;
    }
    let ids: (string | null)[];
    try {
      ids = await this.writer.many(batch.map((w) => w.item));
    } catch {
      // Written again one by one, each failing (or not) on its own.
      await Promise.all(batch.map((w) => this.writer.one(w.item).then(w.resolve, w.reject)));
      return;
    }
    batch.forEach((w, i) => w.resolve(ids[i]));
  }
}

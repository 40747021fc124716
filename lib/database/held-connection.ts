import type { Pool, PoolClient } from 'pg';

/**
 * A pooled connection the engine holds past one statement for the next one of the same pass, at
 * most to the end of the current event-loop turn (a `setImmediate`), then returns to the pool
 * (`TurnConnection`, `TxConnection`). A connection the server dropped meanwhile (its `error`
 * event) is destroyed, never reused. @internal
 */
export abstract class HeldConnection {
  private released = false;
  private broken: Error | undefined;
  private timer: NodeJS.Immediate | undefined;
  private readonly onError = (err: Error): void => {
    this.broken = err;
  };

  constructor(
    readonly client: PoolClient,
    protected readonly pool: Pool,
  ) {
    // NOTE: a checked-out connection that the server drops while no query runs on it emits
    // 'error': with no listener that would crash the process.
    client.on('error', this.onError);
  }

  /** Not returned to the pool yet. */
  get kept(): boolean {
    return !this.released;
  }

  /** Not returned to the pool, and not dropped by the server. */
  get healthy(): boolean {
    return !this.released && this.broken === undefined;
  }

  /** Whether another client waits for the pool (then a connection is not held for later). */
  get poolBusy(): boolean {
    return this.pool.waitingCount > 0;
  }

  /** Calls `expire` at the end of the current turn, unless {@link stopTurnTimer} comes first. */
  protected holdForTurn(expire: () => void): void {
    this.timer = setImmediate(() => {
      this.timer = undefined;
      expire();
    });
  }

  /** Has it destroyed, not reused, when it is returned (`err`: why). */
  protected markBroken(err: Error): void {
    this.broken ??= err;
  }

  /** Stops the turn-end timer of {@link holdForTurn}. */
  protected stopTurnTimer(): void {
    clearImmediate(this.timer);
    this.timer = undefined;
  }

  /** Returns it to the pool, destroyed with `err` or when the server dropped it; idempotent. */
  protected returnToPool(err?: Error): void {
    if (this.released) return;
    this.released = true;
    this.stopTurnTimer();
    this.client.off('error', this.onError);
    this.client.release(err ?? this.broken);
  }
}

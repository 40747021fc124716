/**
 * Hands out replayed (completed) calls' turns: one per macrotask, lowest log id (first written)
 * first among the calls waiting (see `RunScope.replayTurn`).
 */
export class ReplayTurns {
  private readonly waiting: Array<{ id: bigint; resolve: () => void }> = [];

  /** Resolves when the call replaying log `logId` may return its stored result. */
  wait(logId: string): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push({ id: BigInt(logId), resolve });
      if (this.waiting.length === 1) setImmediate(() => this.next());
    });
  }

  private next(): void {
    let first = 0;
    for (let i = 1; i < this.waiting.length; i++)
      if (this.waiting[i].id < this.waiting[first].id) first = i;
    const [turn] = this.waiting.splice(first, 1);
    turn.resolve();
    if (this.waiting.length > 0) setImmediate(() => this.next());
  }
}

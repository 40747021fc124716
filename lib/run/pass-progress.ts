import type { LogRow } from '../persistence/rows.js';

/** Whether a pass made progress, measured against the step logs it began with. */
export class PassProgress {
  /** Logs, and completed logs, when the pass began (progress = more of either now). */
  private readonly logsAtStart: number;
  private readonly completedAtStart: number;
  private noted = false;

  constructor(private readonly logs: Map<string, LogRow>) {
    this.logsAtStart = logs.size;
    this.completedAtStart = this.completedLogs();
  }

  /** Records progress the step logs do not show (a repeat tick recorded). */
  note(): void {
    this.noted = true;
  }

  /**
   * Whether this pass made progress: it reached a durable call (step, timer, wait condition,
   * signal, branch, merge) that no earlier pass reached, completed one that was not complete when
   * it began, or recorded a repeat tick. Progress starts the workflow-level attempt count over.
   */
  get made(): boolean {
    return (
      this.noted ||
      this.logs.size > this.logsAtStart ||
      this.completedLogs() > this.completedAtStart
    );
  }

  private completedLogs(): number {
    let n = 0;
    for (const log of this.logs.values()) if (log.state === 'completed') n++;
    return n;
  }
}

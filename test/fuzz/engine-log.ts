import type { LoggerService } from '@nestjs/common';

/** Most lines kept (the oldest go first). */
const MAX_LINES = 20_000;

/**
 * The warnings and errors the in-process engine logged (failed statements, faulted passes, retried
 * pass ends, heartbeat and sweeper failures), so a failing run's report shows what the engine saw
 * of it: a body that ran twice after an infrastructure fault the harness did not inject (a pool
 * timeout under load) reads differently from one that ran twice for no reason. Info lines are
 * dropped. Installed with `app.useLogger`.
 */
export class EngineLog implements LoggerService {
  private readonly lines: Array<{ at: number; text: string }> = [];

  log(): void {}
  debug(): void {}
  verbose(): void {}

  warn(message: unknown, context?: string): void {
    this.push('WARN', message, context);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.push('ERROR', message, typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : '');
  }

  private push(level: string, message: unknown, context = ''): void {
    const at = Date.now();
    this.logged++;
    this.lines.push({
      at,
      text: `${new Date(at).toISOString()} ${level} [${context}] ${String(message)}`,
    });
    if (this.lines.length > MAX_LINES) this.lines.splice(0, MAX_LINES / 4);
  }

  /** How many lines were logged (kept or not). */
  logged = 0;

  /**
   * Lines about run `id` (`run <id>`), and lines about no run at all (heartbeat, sweeper) logged
   * since `sinceMs`, at most `max` of each.
   */
  about(id: string, sinceMs: number, max = 20): string[] {
    const mine = new RegExp(`\\brun ${id}\\b`);
    const anyRun = /\brun \d+\b/;
    const own = this.lines.filter((l) => mine.test(l.text)).map((l) => l.text);
    const general = this.lines
      .filter((l) => l.at >= sinceMs && !anyRun.test(l.text))
      .map((l) => l.text);
    return [...own.slice(-max), ...general.slice(-max)];
  }
}

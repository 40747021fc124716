import type { LoggerService } from '@nestjs/common';

/** Most lines kept (the oldest go first). */
const MAX_LINES = 20_000;

/** A faulted pass as the executor logs it (`EngineFaultError`'s message). */
const FAULTED = /failed during a pass of run (\d+) \((.*)\); the pass ends/;
/** The cause of a fault the suite injected (db-faults.ts). */
const INJECTED = /fuzz fault/;
/**
 * Causes of faults nobody injected that a shared test server produces: refused connections
 * (`max_connections` reached by suites running beside this one), resets and restarts.
 */
const INFRASTRUCTURE =
  /too many clients|too many connections|Connection terminated|timeout exceeded when trying to connect|ECONNRESET|ECONNREFUSED|terminating connection|the database system is|Connection ended unexpectedly/i;

/** A pass of run `runId` the engine ended as faulted, and why. */
export interface LoggedFault {
  runId: string;
  cause: string;
  /** `injected` by the suite, `infrastructure` (see above), or `unexplained`: a defect. */
  kind: 'injected' | 'infrastructure' | 'unexplained';
}

/** The faulted passes logged in `text` (one line per log entry). */
export function faultsIn(text: string): LoggedFault[] {
  const out: LoggedFault[] = [];
  for (const line of text.split('\n')) {
    const m = FAULTED.exec(line);
    if (!m) continue;
    const [, runId, cause] = m;
    const kind = INJECTED.test(cause)
      ? 'injected'
      : INFRASTRUCTURE.test(cause)
        ? 'infrastructure'
        : 'unexplained';
    out.push({ runId, cause, kind });
  }
  return out;
}

/**
 * The warnings and errors the in-process engine logged (failed statements, faulted passes, retried
 * pass ends, heartbeat and sweeper failures), so a failing run's report shows what the engine saw
 * of it: a body that ran twice after an infrastructure fault the harness did not inject (a pool
 * timeout under load) reads differently from one that ran twice for no reason. Info lines are
 * dropped. Installed with `app.useLogger`. The faulted passes it logged tell which runs a fault
 * struck that the suite did not inject (see {@link faultsIn}).
 */
export class EngineLog implements LoggerService {
  private readonly lines: Array<{ at: number; text: string }> = [];

  /** @param echo also write each line to stdout (worker processes, whose output the driver reads). */
  constructor(private readonly echo = false) {}

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
    if (this.echo) process.stdout.write(`${level} [${context}] ${String(message)}\n`);
    this.lines.push({
      at,
      text: `${new Date(at).toISOString()} ${level} [${context}] ${String(message)}`,
    });
    if (this.lines.length > MAX_LINES) this.lines.splice(0, MAX_LINES / 4);
  }

  /** How many lines were logged (kept or not). */
  logged = 0;

  /** The faulted passes logged so far. */
  faults(): LoggedFault[] {
    return faultsIn(this.lines.map((l) => l.text).join('\n'));
  }

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

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

/** One worker process of the chaos suite. */
export interface ChaosWorker {
  id: string;
  proc: ChildProcess;
  log: string;
  ready: Promise<void>;
  exited: Promise<void>;
  /** Killed by the driver (as opposed to dying by itself). */
  killed: boolean;
  isReady: boolean;
}

export interface ChaosWorkerPoolOptions {
  /** The compiled worker entry point. */
  script: string;
  cwd: string;
  /** Where each worker's log (`<id>.log`) goes. */
  logDir: string;
  /** Extra environment of every worker (schema, queue). */
  env: Record<string, string>;
  /** Records a line of the timeline. */
  event: (what: string) => void;
  /** Whether PostgreSQL was down at some point since `spawnedAt` (a boot failure is expected then). */
  pgWasDown: (spawnedAt: number) => boolean;
}

/**
 * The chaos suite's worker processes, managed like a process manager would: a worker that exits by
 * itself is replaced (and counted as unexpected, unless it failed to boot while PostgreSQL was
 * down); `killAll` stops replacing and SIGKILLs the rest.
 */
export class ChaosWorkerPool {
  readonly workers: ChaosWorker[] = [];
  /** Workers that died by themselves, with their log. */
  readonly unexpectedExits: string[] = [];
  /** Workers that failed to boot during a PostgreSQL restart. */
  bootFailures = 0;
  private seq = 0;
  private replace = true;

  constructor(private readonly o: ChaosWorkerPoolOptions) {}

  spawn(): ChaosWorker {
    const { event } = this.o;
    const id = `w${++this.seq}`;
    const spawnedAt = Date.now();
    event(`${id} spawned`);
    const log = join(this.o.logDir, `${id}.log`);
    const fd = openSync(log, 'a');
    const proc = spawn(process.execPath, [this.o.script], {
      cwd: this.o.cwd,
      env: { ...process.env, ...this.o.env, CHAOS_WORKER_ID: id },
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    closeSync(fd);
    const w: ChaosWorker = {
      id,
      proc,
      log,
      killed: false,
      isReady: false,
      ready: Promise.resolve(),
      exited: Promise.resolve(),
    };
    w.ready = new Promise<void>((resolve, reject) => {
      proc.on('message', (m) => {
        if (m !== 'ready') return;
        w.isReady = true;
        event(`${id} (pid ${proc.pid}) ready`);
        resolve();
      });
      proc.once('exit', () => reject(new Error(`worker ${id} exited before ready`)));
    });
    w.ready.catch(() => undefined);
    w.exited = new Promise<void>((resolve) =>
      proc.once('exit', (code, signal) => {
        if (w.killed) return resolve();
        // A worker booting while PostgreSQL restarts fails (its migrations cannot run): expected.
        // Any other exit is a defect. Either way, like a process manager, start another one.
        if (!w.isReady && this.o.pgWasDown(spawnedAt)) {
          this.bootFailures++;
          event(`${id} failed to boot during the PostgreSQL restart (code ${code})`);
        } else {
          event(`${id} exited by itself (code ${code}, signal ${signal})`);
          this.unexpectedExits.push(
            `${id} (pid ${proc.pid}) exited by itself: code ${code}, signal ${signal}; log ${log}`,
          );
        }
        if (this.replace) setTimeout(() => this.replace && this.spawn(), 500);
        resolve();
      }),
    );
    this.workers.push(w);
    return w;
  }

  /** Workers running and not killed by the driver. */
  alive(): ChaosWorker[] {
    return this.workers.filter(
      (w) => w.proc.exitCode === null && w.proc.signalCode === null && !w.killed,
    );
  }

  /** Live workers that finished booting. */
  ready(): ChaosWorker[] {
    return this.alive().filter((w) => w.isReady);
  }

  /** Stops replacing workers and SIGKILLs every live one. */
  async killAll(): Promise<void> {
    this.replace = false;
    for (const w of this.alive()) {
      w.killed = true;
      w.proc.kill('SIGKILL');
    }
    await Promise.all(this.workers.map((w) => w.exited));
  }
}

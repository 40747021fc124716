import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShapeSwitches } from './program.js';
import { faultsIn } from './engine-log.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'dist/test/fuzz/fuzz-worker.main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Shapes and faults, by name. All are on by default and pass on the current engine (the ones tied
 * to the fixed issue-15 items 1, 2, 5, 18 and 20, failed engine statements under a catch-all and
 * retries after caught failures included). FUZZ_SHAPES=none switches them off; `none,<name>,…`
 * runs only the named ones.
 */
export function shapeSwitches(): ShapeSwitches {
  const raw = (process.env.FUZZ_SHAPES ?? '').split(',').map((s) => s.trim());
  const all = raw.includes('all');
  const none = raw.includes('none');
  const on = (name: keyof ShapeSwitches, byDefault: boolean) =>
    all || raw.includes(name) || (byDefault && !none);
  return {
    parallelFlaky: on('parallelFlaky', true),
    cancel: on('cancel', true),
    sqlUnlock: on('sqlUnlock', true),
    sql: on('sql', true),
    catchAll: on('catchAll', true),
    sqlInCatchAll: on('sqlInCatchAll', true),
    stateInStep: on('stateInStep', true),
    protoKeys: on('protoKeys', true),
    retryShift: on('retryShift', true),
    saga: on('saga', true),
    limits: on('limits', true),
    lease: on('lease', true),
    takeover: on('takeover', true),
  };
}

interface Worker {
  proc: ChildProcess;
  ready: boolean;
  log: string;
}

/** Child worker processes the SIGKILL mode kills and replaces; each with a random clock skew. */
export function workerPool(schema: string, queueName: string, size = 2, skewMs = 2000) {
  if (!existsSync(script))
    throw new Error(
      `${script} is missing: run \`npx tsc -p tsconfig.json\` first (npm run test:fuzz does).`,
    );
  const workers: Worker[] = [];
  const killed = new Set<number>();
  const start = (): Promise<void> => {
    const skew = Math.round((Math.random() * 2 - 1) * skewMs);
    const proc = spawn(process.execPath, [script], {
      cwd: root,
      env: {
        ...process.env,
        CF_TEST_SCHEMA: schema,
        CF_TEST_QUEUE: queueName,
        FUZZ_CLOCK_SKEW_MS: String(skew),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const w: Worker = { proc, ready: false, log: '' };
    proc.stdout?.on('data', (d: Buffer) => (w.log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (w.log += d.toString()));
    workers.push(w);
    return new Promise<void>((resolve, reject) => {
      proc.on('message', (m) => {
        if (m === 'ready') {
          w.ready = true;
          resolve();
        }
      });
      proc.once('exit', (code) => {
        if (!w.ready) reject(new Error(`fuzz worker exited (${code}) before ready:\n${w.log}`));
      });
    });
  };
  const alive = () => workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
  const kill = (w: Worker) => {
    if (w.proc.pid) killed.add(w.proc.pid);
    w.proc.kill('SIGKILL');
  };
  return {
    killed: () => killed,
    /** Tops the pool up to `size` ready workers. */
    async ensure(): Promise<void> {
      const missing = size - alive().length;
      await Promise.all(Array.from({ length: Math.max(0, missing) }, start));
    },
    /**
     * While `busy()`: every 0.2–0.8 s SIGKILL a random ready worker (keeping one up) and start a
     * replacement (its boot is not awaited: the remaining workers carry on meanwhile).
     */
    chaos: async (busy: () => boolean): Promise<void> => {
      const booting: Array<Promise<void>> = [];
      while (busy()) {
        await sleep(200 + Math.random() * 600);
        const ready = alive().filter((w) => w.ready);
        if (!busy() || ready.length < 2) continue;
        kill(ready[Math.floor(Math.random() * ready.length)]);
        booting.push(start());
      }
      await Promise.all(booting);
    },
    /** The passes the workers logged as faulted (they echo their warnings to stdout). */
    faults: () => workers.flatMap((w) => faultsIn(w.log)),
    /** Worker output, for a failure report. */
    logs: () => workers.map((w) => `--- pid ${w.proc.pid}\n${w.log.slice(-3000)}`).join('\n'),
    async close(): Promise<void> {
      for (const w of alive()) kill(w);
      await sleep(100);
    },
  };
}

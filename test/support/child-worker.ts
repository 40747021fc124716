import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = `${root}/dist/test/fixtures`;
const script = `${fixtures}/worker.main.js`;

/** Compiles the project once when the worker script is missing (npm test compiles first). */
export function ensureCompiled(): void {
  if (!existsSync(script))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
}

/** A worker in a real child process. */
export interface ChildWorker {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

/**
 * Spawns `dist/test/fixtures/worker.main.js` (or another compiled `main` of test/fixtures) against
 * the suite's schema and queue.
 */
export function spawnWorker(
  schema: string,
  queueName: string,
  env: Record<string, string> = {},
  main = 'worker.main.js',
): ChildWorker {
  const proc = spawn(process.execPath, [`${fixtures}/${main}`], {
    cwd: root,
    env: { ...process.env, CF_TEST_SCHEMA: schema, CF_TEST_QUEUE: queueName, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    proc.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.once('exit', () => reject(new Error(`worker exited before ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, ready, exited, output: () => out };
}

/**
 * Child worker processes for the enclosing `describe`, against `suite`'s schema and queue: the
 * project is compiled in `beforeAll` if needed, and the workers still alive are SIGKILLed in
 * `afterAll` (before the suite's app closes: hooks registered later run first).
 */
export function suiteWorkers(suite: {
  schema: string;
  queueName: string;
}): (env?: Record<string, string>) => ChildWorker {
  const children: ChildWorker[] = [];
  beforeAll(() => ensureCompiled());
  afterAll(() => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  });
  return (env = {}) => {
    const child = spawnWorker(suite.schema, suite.queueName, env);
    children.push(child);
    return child;
  };
}

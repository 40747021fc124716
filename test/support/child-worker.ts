import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = `${root}/dist/test/fixtures/worker.main.js`;

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
 * Spawns `dist/test/fixtures/worker.main.js` (or `main`, another compiled script under
 * `dist/test/fixtures/`) against the suite's schema and queue.
 */
export function spawnWorker(
  schema: string,
  queueName: string,
  env: Record<string, string> = {},
  main = 'worker.main.js',
): ChildWorker {
  const proc = spawn(process.execPath, [`${root}/dist/test/fixtures/${main}`], {
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

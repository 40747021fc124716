import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';

/** Process helpers of the suites that start their own servers (chaos, topology, their configs). */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command without blocking the event loop. */
export function run(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}${err ? err.message : ''}` }),
    );
  });
}

/** Polls `check` every 100 ms until it holds. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** `n` distinct TCP ports nothing listens on right now. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** redis-server arguments of a private, non-persistent server daemonized on `port`. */
export function redisServerArgs(port: number, dir: string, logfile: string): string[] {
  return [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    logfile,
  ];
}

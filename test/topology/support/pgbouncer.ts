import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { AS_ROOT, run, until } from './processes.js';

/** A private PgBouncer the topology suite started. */
export interface PgBouncer {
  /** postgres:// URL of `database` through the pooler. */
  readonly url: string;
  readonly port: number;
  /** Runs a command of PgBouncer's admin console (`SHOW CLIENTS`, `SHOW STATS`, ...). */
  admin(command: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Directory for its config, pid and log (created; removed by `stop`). */
  dir: string;
  port: number;
  mode: 'transaction' | 'session';
  /** The PostgreSQL behind it. */
  target: { host: string; port: number; user: string; database: string };
  /** Server connections per database/user pair. @default 40 */
  poolSize?: number;
}

/**
 * Starts PgBouncer (Debian's `pgbouncer`, 1.18: no prepared-statement support in transaction mode)
 * in `mode` in front of `target`, with trust authentication. It refuses to run as root: as root it
 * runs as the `postgres` OS user.
 */
export async function startPgBouncer(o: PgBouncerOptions): Promise<PgBouncer> {
  mkdirSync(o.dir, { recursive: true });
  const ini = join(o.dir, 'pgbouncer.ini');
  const pidfile = join(o.dir, 'pgbouncer.pid');
  writeFileSync(join(o.dir, 'users.txt'), `"${o.target.user}" ""\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${o.target.host} port=${o.target.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${o.port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(o.dir, 'users.txt')}`,
      `pool_mode = ${o.mode}`,
      'max_client_conn = 2000',
      `default_pool_size = ${o.poolSize ?? 40}`,
      `admin_users = ${o.target.user}`,
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(o.dir, 'pgbouncer.log')}`,
      `pidfile = ${pidfile}`,
      '',
    ].join('\n'),
  );
  if (AS_ROOT) {
    const uid = Number((await run('id', ['-u', 'postgres'])).out.trim());
    chownSync(o.dir, uid, -1);
    for (const f of ['pgbouncer.ini', 'users.txt']) chownSync(join(o.dir, f), uid, -1);
  }
  const started = AS_ROOT
    ? await run('runuser', ['-u', 'postgres', '--', 'pgbouncer', '-d', ini])
    : await run('pgbouncer', ['-d', ini]);
  if (!started.ok) throw new Error(`pgbouncer failed to start: ${started.out}`);
  const url = `postgres://${o.target.user}@127.0.0.1:${o.port}/${o.target.database}`;
  const admin = async (command: string) => {
    const client = new pg.Client({
      connectionString: `postgres://${o.target.user}@127.0.0.1:${o.port}/pgbouncer`,
    });
    // While PgBouncer shuts down a connection may be accepted and then dropped: never unhandled.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query(command)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await until(
    () =>
      admin('SHOW VERSION').then(
        () => true,
        () => false,
      ),
    20_000,
    `PgBouncer on port ${o.port}`,
  );
  return {
    url,
    port: o.port,
    admin,
    async stop() {
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
      await until(
        () =>
          admin('SHOW VERSION').then(
            () => false,
            () => true,
          ),
        20_000,
        `PgBouncer on port ${o.port} to stop`,
      );
      rmSync(o.dir, { recursive: true, force: true });
    },
  };
}

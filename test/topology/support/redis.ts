import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redisServerArgs } from '../../support/processes.js';
import { run, until } from './processes.js';

const cli = (port: number, ...args: string[]) =>
  run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], 10_000);

const answers = async (port: number) => (await cli(port, 'ping')).out.includes('PONG');

/** A private Redis server (no persistence: this is about topology, not durability). */
async function startServer(port: number, dir: string, extra: string[] = []): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const started = await run('redis-server', [
    ...redisServerArgs(port, dir, join(dir, 'redis.log')),
    ...extra,
  ]);
  if (!started.ok) throw new Error(`redis-server on ${port} failed to start: ${started.out}`);
  await until(() => answers(port), 20_000, `Redis on port ${port}`);
}

async function shutdown(port: number): Promise<void> {
  await cli(port, 'shutdown', 'nosave');
  await until(async () => !(await answers(port)), 10_000, `Redis on port ${port} to stop`);
}

/** A private group of Redis servers the topology suite started. */
export interface RedisGroup {
  readonly ports: number[];
  /** Runs a redis-cli command against `port`. */
  cli(port: number, ...args: string[]): Promise<{ ok: boolean; out: string }>;
  stop(): Promise<void>;
}

/** A Redis Cluster of `ports.length` masters (no replicas), slots spread by `redis-cli --cluster`. */
export async function startCluster(dir: string, ports: number[]): Promise<RedisGroup> {
  for (const port of ports)
    await startServer(port, join(dir, String(port)), [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, String(port), 'nodes.conf'),
      '--cluster-node-timeout',
      '2000',
    ]);
  const created = await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    60_000,
  );
  if (!created.ok) throw new Error(`redis-cli --cluster create failed: ${created.out}`);
  for (const port of ports)
    await until(
      async () => (await cli(port, 'cluster', 'info')).out.includes('cluster_state:ok'),
      30_000,
      `cluster state ok on ${port}`,
    );
  return {
    ports,
    cli,
    async stop() {
      for (const port of ports) await shutdown(port).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A master, its replica and one sentinel (quorum 1) monitoring them as `name`. */
export interface SentinelGroup extends RedisGroup {
  readonly sentinelPort: number;
  readonly name: string;
  /** The port of the master the sentinel reports now. */
  masterPort(): Promise<number>;
  /** Forces a failover (`SENTINEL FAILOVER`) and waits until the replica is the master. */
  failover(): Promise<number>;
}

export async function startSentinel(
  dir: string,
  [master, replica, sentinel]: [number, number, number],
  name = 'cfmaster',
): Promise<SentinelGroup> {
  await startServer(master, join(dir, 'master'));
  await startServer(replica, join(dir, 'replica'), ['--replicaof', '127.0.0.1', String(master)]);
  await until(
    async () => (await cli(replica, 'info', 'replication')).out.includes('master_link_status:up'),
    30_000,
    'the replica to sync',
  );
  const sdir = join(dir, 'sentinel');
  mkdirSync(sdir, { recursive: true });
  const conf = join(sdir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinel}`,
      'bind 127.0.0.1',
      'daemonize yes',
      `dir ${sdir}`,
      `logfile ${join(sdir, 'sentinel.log')}`,
      `sentinel monitor ${name} 127.0.0.1 ${master} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      `sentinel failover-timeout ${name} 10000`,
      '',
    ].join('\n'),
  );
  const started = await run('redis-sentinel', [conf]);
  if (!started.ok) throw new Error(`redis-sentinel failed to start: ${started.out}`);
  await until(() => answers(sentinel), 20_000, 'the sentinel');
  const masterPort = async () => {
    const out = (await cli(sentinel, 'sentinel', 'get-master-addr-by-name', name)).out;
    return Number(out.trim().split('\n')[1]);
  };
  await until(
    async () => (await masterPort()) === master,
    20_000,
    'the sentinel to see the master',
  );
  // The sentinel must know the replica before it can fail over to it.
  await until(
    async () => (await cli(sentinel, 'sentinel', 'replicas', name)).out.includes(String(replica)),
    30_000,
    'the sentinel to discover the replica',
  );
  return {
    ports: [master, replica],
    sentinelPort: sentinel,
    name,
    cli,
    masterPort,
    async failover() {
      const before = await masterPort();
      const asked = await cli(sentinel, 'sentinel', 'failover', name);
      if (!asked.out.includes('OK')) throw new Error(`SENTINEL FAILOVER refused: ${asked.out}`);
      await until(async () => (await masterPort()) !== before, 30_000, 'the failover');
      const now = await masterPort();
      await until(
        async () => (await cli(now, 'info', 'replication')).out.includes('role:master'),
        30_000,
        'the new master to take the role',
      );
      return now;
    },
    async stop() {
      for (const port of [sentinel, master, replica]) await shutdown(port).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

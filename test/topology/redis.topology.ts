import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChronoForgeModuleOptions,
  InvalidOptionsError,
  WorkflowClient,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { sql, uniqueName } from '../support/env.js';
import { freePorts } from './support/processes.js';
import {
  type RedisGroup,
  type SentinelGroup,
  startCluster,
  startSentinel,
} from './support/redis.js';
import { StepCounter, topologyProviders } from './support/topology.fixture.js';

/** Boots an app on `queue` with the topology workflow; closes it and drops its schema afterwards. */
function topologyApp(prefix: string) {
  const schema = uniqueName(`cf_${prefix}`);
  const queueName = uniqueName(`q_${prefix}`);
  let app: INestApplicationContext | undefined;
  afterAll(async () => {
    await app?.close();
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
  return {
    schema,
    queueName,
    boot: async (queue: ChronoForgeModuleOptions['queue']) =>
      (app = await bootApp({
        schema,
        queueName,
        providers: topologyProviders,
        options: { queue, worker: { concurrency: 8 } },
      })),
  };
}

/** Starts `n` runs (`topology.run`, a 300 ms sleep) and checks each completes, every step once. */
async function runAll(
  app: INestApplicationContext,
  prefix: string,
  n: number,
  during?: () => Promise<unknown>,
) {
  const client = app.get(WorkflowClient);
  const keys = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const handles = await Promise.all(
    keys.map((key) => client.start('topology.run', { key, input: { sleep: '300ms' } })),
  );
  await during?.();
  const results = await Promise.all(handles.map((h) => h.result({ timeout: '90s' })));
  expect(results).toEqual(keys.map(() => 'done 3'));
  const hits = app.get(StepCounter).hits;
  const duplicated = keys.filter((k) => hits.get(`${k}:a`) !== 1 || hits.get(`${k}:b`) !== 1);
  expect(duplicated).toEqual([]);
}

describe('Redis Cluster, 3 masters (topology)', () => {
  let cluster: RedisGroup;
  beforeAll(async () => {
    cluster = await startCluster(
      await mkdtemp(join(tmpdir(), 'chronoforge-cluster-')),
      await freePorts(3),
    );
  });
  afterAll(() => cluster?.stop());
  // Registered after the servers: afterAll hooks run in reverse, so the app closes first.
  const suite = topologyApp('rcluster');
  const nodes = () => cluster.ports.map((port) => ({ host: '127.0.0.1', port }));

  it('should refuse a cluster prefix without a hash tag, naming queue.redis.prefix', async () => {
    const boot = bootApp({
      schema: 'cf_never_created',
      queueName: 'q_never_created',
      options: { queue: { redis: { cluster: { nodes: nodes() }, prefix: 'bull' } } },
    });
    await expect(boot).rejects.toThrow(InvalidOptionsError);
    await expect(boot).rejects.toThrow(/queue\.redis\.prefix.*hash tag/);
  });

  it('should run workflows on the cluster with BullMQ keys under the hash-tagged prefix', async () => {
    const app = await suite.boot({ redis: { cluster: { nodes: nodes() } } });
    await runAll(app, 'c', 20);
    // Every key of the queue lives in the slot of "{chronoforge}", on one of the masters.
    let keys = 0;
    for (const port of cluster.ports) {
      const { out } = await cluster.cli(
        port,
        '--scan',
        '--pattern',
        `{chronoforge}:${suite.queueName}:*`,
      );
      keys += out.split('\n').filter((l) => l.trim()).length;
    }
    expect(keys).toBeGreaterThan(0);
  });
});

describe('Redis Sentinel failover during running workflows (topology)', () => {
  let group: SentinelGroup;
  beforeAll(async () => {
    const [master, replica, sentinel] = await freePorts(3);
    group = await startSentinel(await mkdtemp(join(tmpdir(), 'chronoforge-sentinel-')), [
      master,
      replica,
      sentinel,
    ]);
  });
  afterAll(() => group?.stop());
  const suite = topologyApp('rsentinel');

  it('should lose no run and duplicate none when the master fails over mid-run', async () => {
    const app = await suite.boot({
      redis: {
        sentinel: {
          sentinels: [{ host: '127.0.0.1', port: group.sentinelPort }],
          name: group.name,
        },
      },
    });
    const first = await group.masterPort();
    let after = first;
    await runAll(app, 's', 40, async () => {
      after = await group.failover();
    });
    expect(after).not.toBe(first);
    // And the queue keeps working on the new master.
    await runAll(app, 's-after', 5);
  });
});

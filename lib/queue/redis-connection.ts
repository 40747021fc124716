import { Cluster, Redis } from 'ioredis';
import type { ResolvedRedisBackend } from '../options/redis-options.js';

/**
 * One ioredis connection for BullMQ (`maxRetriesPerRequest: null`, as BullMQ requires): to one
 * server, to the current master of a Sentinel group (asked of the sentinels again after every
 * failover, which `failoverDetector` notices without waiting for the old master's connection to
 * drop), or to a Redis Cluster.
 */
export function connectRedis(backend: ResolvedRedisBackend): Redis | Cluster {
  const c = backend.connection;
  if ('url' in c) return new Redis(c.url, { maxRetriesPerRequest: null, lazyConnect: false });
  if ('sentinel' in c) {
    const { sentinels, name, password, sentinelPassword, db } = c.sentinel;
    return new Redis({
      sentinels,
      name,
      password,
      sentinelPassword,
      db,
      failoverDetector: true,
      maxRetriesPerRequest: null,
    });
  }
  return new Cluster(c.cluster.nodes, {
    redisOptions: { password: c.cluster.password, maxRetriesPerRequest: null },
  });
}

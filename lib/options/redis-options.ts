import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import type {
  ChronoForgeRedisAddress,
  ChronoForgeRedisOptions,
} from './chrono-forge-options.interface.js';

/** Default BullMQ prefix on a Redis Cluster: one hash tag, so a queue's keys share a slot. */
export const CLUSTER_DEFAULT_PREFIX = '{chronoforge}';

/** The Redis queue backend after validation and defaults. */
export interface ResolvedRedisBackend {
  kind: 'redis';
  /** Where it is, for messages: the url, or `redis-sentinel://…` / `redis-cluster://…`. */
  url: string;
  /** How to connect: exactly one of the three. */
  connection:
    | { url: string }
    | { sentinel: NonNullable<ChronoForgeRedisOptions['sentinel']> }
    | { cluster: NonNullable<ChronoForgeRedisOptions['cluster']> };
  /** BullMQ's key prefix, or undefined for BullMQ's default. */
  prefix: string | undefined;
}

function fail(message: string): never {
  throw new InvalidOptionsError(`ChronoForgeModule: ${message}`);
}

function addresses(value: unknown, what: string): ChronoForgeRedisAddress[] {
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (a: unknown) =>
        !!a &&
        typeof (a as ChronoForgeRedisAddress).host === 'string' &&
        (a as ChronoForgeRedisAddress).host.length > 0 &&
        Number.isInteger((a as ChronoForgeRedisAddress).port) &&
        (a as ChronoForgeRedisAddress).port > 0 &&
        (a as ChronoForgeRedisAddress).port < 65536,
    );
  if (!ok)
    fail(`\`${what}\` must be a non-empty array of { host, port }, got ${describeValue(value)}.`);
  return (value as ChronoForgeRedisAddress[]).map(({ host, port }) => ({ host, port }));
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') fail(`\`${what}\` must be a string.`);
  return value as string | undefined;
}

const list = (nodes: ChronoForgeRedisAddress[]) =>
  nodes.map((n) => `${n.host}:${n.port}`).join(',');

/**
 * Validates `queue.redis`: exactly one of `url`, `sentinel` or `cluster`, and a `prefix` that, on a
 * cluster, carries a hash tag (BullMQ's scripts touch several keys of a queue at once, which a
 * cluster allows only within one slot).
 */
export function resolveRedis(value: unknown): ResolvedRedisBackend {
  const r = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const given = (['url', 'sentinel', 'cluster'] as const).filter((k) => r[k] !== undefined);
  if (value === undefined)
    fail(
      '`queue.redis.url` must be a redis:// URL. `queue` needs exactly one backend: `{ redis: { url } }` or `{ postgres: true }`.',
    );
  if (given.length === 0) fail('`queue.redis.url` must be a redis:// URL.');
  if (given.length > 1)
    fail(
      '`queue.redis` takes exactly one of `url` (a redis:// URL), `sentinel` ({ sentinels, name }) or `cluster` ({ nodes }).',
    );
  const prefix = optionalString(r.prefix, 'queue.redis.prefix');
  if (prefix !== undefined && !/^[^:\s]{1,100}$/.test(prefix))
    fail(
      `\`queue.redis.prefix\` must be 1-100 characters without ':' or spaces, got ${describeValue(prefix)}.`,
    );
  if (given[0] === 'url') {
    if (typeof r.url !== 'string' || !/^rediss?:\/\//.test(r.url))
      fail('`queue.redis.url` must be a redis:// URL.');
    return { kind: 'redis', url: r.url, connection: { url: r.url }, prefix };
  }
  if (given[0] === 'sentinel') {
    const s = (r.sentinel && typeof r.sentinel === 'object' ? r.sentinel : {}) as Record<
      string,
      unknown
    >;
    const sentinels = addresses(s.sentinels, 'queue.redis.sentinel.sentinels');
    if (typeof s.name !== 'string' || s.name.length === 0)
      fail(
        '`queue.redis.sentinel.name` must be the master group name (`sentinel monitor <name> …`).',
      );
    if (s.db !== undefined && (!Number.isInteger(s.db) || (s.db as number) < 0))
      fail(`\`queue.redis.sentinel.db\` must be a database number, got ${describeValue(s.db)}.`);
    const sentinel = {
      sentinels,
      name: s.name,
      password: optionalString(s.password, 'queue.redis.sentinel.password'),
      sentinelPassword: optionalString(s.sentinelPassword, 'queue.redis.sentinel.sentinelPassword'),
      db: s.db as number | undefined,
    };
    return {
      kind: 'redis',
      url: `redis-sentinel://${s.name}@${list(sentinels)}`,
      connection: { sentinel },
      prefix,
    };
  }
  const c = (r.cluster && typeof r.cluster === 'object' ? r.cluster : {}) as Record<
    string,
    unknown
  >;
  const nodes = addresses(c.nodes, 'queue.redis.cluster.nodes');
  const clusterPrefix = prefix ?? CLUSTER_DEFAULT_PREFIX;
  if (!/\{[^{}]+\}/.test(clusterPrefix))
    fail(
      `\`queue.redis.prefix\` must carry a hash tag on a Redis Cluster, e.g. '{chronoforge}' (got ${describeValue(clusterPrefix)}): every key of a queue must hash to one slot.`,
    );
  return {
    kind: 'redis',
    url: `redis-cluster://${list(nodes)}`,
    connection: {
      cluster: { nodes, password: optionalString(c.password, 'queue.redis.cluster.password') },
    },
    prefix: clusterPrefix,
  };
}

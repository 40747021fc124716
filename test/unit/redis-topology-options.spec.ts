import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import type { ChronoForgeModuleOptions } from '../../lib/options/chrono-forge-options.interface.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';

const withRedis = (redis: unknown): ChronoForgeModuleOptions =>
  ({ database: { url: 'postgres://db/app' }, queue: { redis } }) as ChronoForgeModuleOptions;

function invalid(redis: unknown): string {
  try {
    resolveOptions(withRedis(redis));
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionsError);
    return (err as Error).message;
  }
  throw new Error('expected InvalidOptionsError');
}

const nodes = [{ host: 'r1', port: 7000 }];

describe('resolveOptions() queue.redis sentinel / cluster / prefix', () => {
  it('should resolve a Sentinel group', () => {
    const { queue } = resolveOptions(
      withRedis({ sentinel: { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' } }),
    );
    expect(queue).toMatchObject({
      kind: 'redis',
      url: 'redis-sentinel://mymaster@s1:26379',
      connection: { sentinel: { name: 'mymaster', sentinels: [{ host: 's1', port: 26379 }] } },
      prefix: undefined,
    });
  });

  it('should resolve a cluster with the hash-tagged default prefix, or a hash-tagged one given', () => {
    expect(resolveOptions(withRedis({ cluster: { nodes } })).queue).toMatchObject({
      url: 'redis-cluster://r1:7000',
      prefix: '{chronoforge}',
    });
    expect(
      resolveOptions(withRedis({ cluster: { nodes }, prefix: 'app{cf}' })).queue,
    ).toMatchObject({ prefix: 'app{cf}' });
  });

  it('should keep a prefix on a single server', () => {
    expect(resolveOptions(withRedis({ url: 'redis://r', prefix: 'cf' })).queue).toMatchObject({
      prefix: 'cf',
    });
  });

  it('should refuse a cluster prefix without a hash tag, naming queue.redis.prefix', () => {
    expect(invalid({ cluster: { nodes }, prefix: 'bull' })).toMatch(
      /`queue\.redis\.prefix` must carry a hash tag on a Redis Cluster/,
    );
  });

  it('should refuse more than one connection kind and malformed addresses', () => {
    expect(invalid({ url: 'redis://r', cluster: { nodes } })).toMatch(/exactly one of `url`/);
    expect(invalid({ cluster: { nodes: [] } })).toMatch(/queue\.redis\.cluster\.nodes/);
    expect(invalid({ sentinel: { sentinels: [{ host: 's', port: 0 }], name: 'm' } })).toMatch(
      /queue\.redis\.sentinel\.sentinels/,
    );
    expect(invalid({ sentinel: { sentinels: [{ host: 's', port: 1 }] } })).toMatch(
      /queue\.redis\.sentinel\.name/,
    );
    expect(invalid({ url: 'redis://r', prefix: 'a:b' })).toMatch(/queue\.redis\.prefix/);
  });
});

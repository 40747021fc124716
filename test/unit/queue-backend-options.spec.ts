import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import type { ChronoForgeModuleOptions } from '../../lib/options/chrono-forge-options.interface.js';
import { defaultQueueSchema, resolveOptions } from '../../lib/options/resolve-options.js';

const DB_URL = 'postgres://user:pw@localhost:5432/app';

/** Options with a deliberately wrong shape, for validation tests. */
const loose = (patch: Record<string, unknown>): ChronoForgeModuleOptions =>
  ({
    database: { url: DB_URL },
    queue: { postgres: true },
    ...patch,
  }) as unknown as ChronoForgeModuleOptions;

function invalid(options: ChronoForgeModuleOptions): string {
  try {
    resolveOptions(options);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionsError);
    return (err as Error).message;
  }
  throw new Error('expected InvalidOptionsError');
}

describe('resolveOptions() queue backends', () => {
  it('should default the PostgreSQL queue to the database and the <schema>_bullmq schema', () => {
    const resolved = resolveOptions({
      database: { url: DB_URL, schema: 'cf_1' },
      queue: { postgres: true },
    });
    expect(resolved.queue).toEqual({
      kind: 'postgres',
      connectionString: undefined,
      schema: 'cf_1_bullmq',
    });
    expect(resolved.redisUrl).toBeUndefined();
    expect(resolveOptions(loose({})).queue).toMatchObject({ schema: 'public_bullmq' });
    expect(defaultQueueSchema('public')).toBe('public_bullmq');
  });

  it('should keep an explicit connection string and schema', () => {
    const resolved = resolveOptions(
      loose({
        queue: { postgres: { connectionString: 'postgresql://q@queue-db/jobs', schema: 'jobs' } },
      }),
    );
    expect(resolved.queue).toEqual({
      kind: 'postgres',
      connectionString: 'postgresql://q@queue-db/jobs',
      schema: 'jobs',
    });
  });

  it('should resolve the Redis backend as before', () => {
    const resolved = resolveOptions(loose({ queue: { redis: { url: 'redis://r:6379' } } }));
    expect(resolved.queue).toEqual({
      kind: 'redis',
      url: 'redis://r:6379',
      connection: { url: 'redis://r:6379' },
      prefix: undefined,
    });
    expect(resolved.redisUrl).toBe('redis://r:6379');
  });

  it('should require exactly one backend', () => {
    expect(invalid(loose({ queue: { redis: { url: 'redis://r' }, postgres: true } }))).toMatch(
      /`queue` takes exactly one backend: .* not both/,
    );
    for (const queue of [undefined, {}, { redis: undefined, postgres: undefined }]) {
      expect(invalid(loose({ queue }))).toMatch(
        /`queue` needs exactly one backend: `\{ redis: \{ url \} \}` or `\{ postgres: true \}`/,
      );
    }
  });

  it('should reject malformed PostgreSQL queue options, naming the option', () => {
    for (const postgres of [false, 'postgres://x', 1, []]) {
      expect(invalid(loose({ queue: { postgres } }))).toMatch(
        /`queue.postgres` must be `true` or \{ connectionString\?, schema\? \}/,
      );
    }
    expect(invalid(loose({ queue: { postgres: { connectionString: 'mysql://x' } } }))).toMatch(
      /`queue.postgres.connectionString` must be a postgres:\/\/ connection string/,
    );
    for (const schema of ['', 'a-b', 'x; DROP', 7]) {
      expect(invalid(loose({ queue: { postgres: { schema } } }))).toMatch(
        /`queue.postgres.schema` must be a plain SQL identifier/,
      );
    }
  });

  it('should ask for an explicit queue schema when the default would be too long', () => {
    const schema = `s${'a'.repeat(60)}`;
    expect(invalid(loose({ database: { url: DB_URL, schema } }))).toMatch(
      /default queue schema .* longer than 63 characters; set `queue.postgres.schema`/,
    );
    expect(
      resolveOptions(
        loose({ database: { url: DB_URL, schema }, queue: { postgres: { schema: 'q' } } }),
      ).queue,
    ).toMatchObject({
      schema: 'q',
    });
  });
});

describe('resolveOptions() embedded database', () => {
  it('should default the data directory to .chronoforge/pgdata and leave the port open', () => {
    const resolved = resolveOptions(loose({ database: { embedded: true } }));
    expect(resolved.database.embedded).toEqual({
      dataDir: resolve('.chronoforge/pgdata'),
      port: undefined,
    });
    expect(resolved.database.url).toBeUndefined();
  });

  it('should keep an explicit data directory (made absolute) and port', () => {
    const resolved = resolveOptions(
      loose({ database: { embedded: { dataDir: 'tmp/pg', port: 15432 }, schema: 'app' } }),
    );
    expect(resolved.database.embedded).toEqual({ dataDir: resolve('tmp/pg'), port: 15432 });
    expect(resolved.queue).toMatchObject({ schema: 'app_bullmq' });
  });

  it('should reject embedded combined with url or dataSource', () => {
    for (const database of [
      { embedded: true, url: DB_URL },
      { embedded: true, dataSource: {} as DataSource },
    ]) {
      expect(invalid(loose({ database }))).toMatch(
        /`database.embedded` cannot be combined with `database.url` or `database.dataSource`/,
      );
    }
  });

  it('should reject malformed embedded options, naming the option', () => {
    for (const embedded of [false, 'yes', []]) {
      expect(invalid(loose({ database: { embedded } }))).toMatch(
        /`database.embedded` must be `true` or \{ dataDir\?, port\? \}/,
      );
    }
    for (const dataDir of ['', '  ', 3]) {
      expect(invalid(loose({ database: { embedded: { dataDir } } }))).toMatch(
        /`database.embedded.dataDir` must be a non-empty path/,
      );
    }
    for (const port of [0, 65_536, 1.5, '5432']) {
      expect(invalid(loose({ database: { embedded: { port } } }))).toMatch(
        /`database.embedded.port` must be a TCP port \(1-65535\)/,
      );
    }
  });

  it('should mention embedded when no database is given', () => {
    expect(invalid(loose({ database: {} }))).toMatch(
      /`database` needs a `url` or a `dataSource` \(or `embedded: true`\)/,
    );
  });
});

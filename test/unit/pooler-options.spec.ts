import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import type { ChronoForgeModuleOptions } from '../../lib/options/chrono-forge-options.interface.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';

const POOLED = 'postgres://app@pgbouncer:6432/app';
const DIRECT = 'postgres://app@db:5432/app';
const REDIS = { redis: { url: 'redis://127.0.0.1:6379' } };

const options = (
  database: Record<string, unknown>,
  rest: Partial<ChronoForgeModuleOptions> = {},
): ChronoForgeModuleOptions =>
  ({ database: { url: POOLED, ...database }, queue: REDIS, ...rest }) as ChronoForgeModuleOptions;

function invalid(o: ChronoForgeModuleOptions): string {
  try {
    resolveOptions(o);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionsError);
    return (err as Error).message;
  }
  throw new Error('expected InvalidOptionsError');
}

describe('resolveOptions() database.pooler / database.directUrl', () => {
  it('should default to a direct connection', () => {
    expect(resolveOptions(options({})).database).toMatchObject({
      pooler: undefined,
      directUrl: undefined,
    });
  });

  it('should keep pooler and directUrl as given', () => {
    const resolved = resolveOptions(options({ pooler: 'transaction', directUrl: DIRECT }));
    expect(resolved.database).toMatchObject({ pooler: 'transaction', directUrl: DIRECT });
  });

  it('should refuse a transaction pooler without directUrl, naming what needs a session and the option', () => {
    const message = invalid(options({ pooler: 'transaction' }));
    expect(message).toMatch(/database\.directUrl/);
    expect(message).toMatch(/wake-up listener/);
    expect(message).toMatch(/advisory lock/);
  });

  it('should accept a transaction pooler without directUrl in a client-only process that does not migrate', () => {
    expect(
      resolveOptions(options({ pooler: 'transaction' }, { worker: false, migrationsRun: false }))
        .database.pooler,
    ).toBe('transaction');
  });

  it('should ask for directUrl for the PostgreSQL queue behind any pooler, unless it has its own connection', () => {
    for (const pooler of ['transaction', 'session'])
      expect(
        invalid(
          options({ pooler }, { worker: false, migrationsRun: false, queue: { postgres: true } }),
        ),
      ).toMatch(/PostgreSQL queue backend.*database\.directUrl/);
    expect(() =>
      resolveOptions(
        options({ pooler: 'session' }, { queue: { postgres: { connectionString: DIRECT } } }),
      ),
    ).not.toThrow();
  });

  it('should validate the values', () => {
    expect(invalid(options({ pooler: 'statement' }))).toMatch(/'transaction' or 'session'/);
    expect(invalid(options({ directUrl: 'mysql://x' }))).toMatch(/directUrl.*postgres:\/\//);
    expect(
      invalid({
        database: { embedded: true, pooler: 'session' },
        queue: REDIS,
      } as ChronoForgeModuleOptions),
    ).toMatch(/embedded/);
  });
});

import type { DataSource } from 'typeorm';
import { expect } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import type { ChronoForgeModuleOptions } from '../../lib/options/chrono-forge-options.interface.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';

export const DB_URL = 'postgres://user:pw@localhost:5432/app';
export const REDIS_URL = 'redis://localhost:6379';

export const base = (): ChronoForgeModuleOptions => ({
  database: { url: DB_URL },
  queue: { redis: { url: REDIS_URL } },
});

/** Options with a deliberately wrong shape, for validation tests. */
export const loose = (patch: Record<string, unknown>): ChronoForgeModuleOptions =>
  ({ ...base(), ...patch }) as unknown as ChronoForgeModuleOptions;

export const fakeDataSource = {} as DataSource;

/** Expects `resolveOptions(options)` to throw InvalidOptionsError with `message`. */
export function expectInvalid(options: unknown, message: RegExp | string): void {
  let error: unknown;
  try {
    resolveOptions(options as ChronoForgeModuleOptions);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(InvalidOptionsError);
  expect((error as Error).message).toMatch(message);
}

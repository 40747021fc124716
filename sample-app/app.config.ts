import type { Duration } from '@chronoforge/nestjs';
import { probePostgres, probeRedis } from './common/service-probe.js';
import { durationMs, type OrderTimings } from './orders/order-timings.config.js';

/**
 * Connection settings of the sample application; `AppModule.register()` takes them.
 */
export interface SampleAppOptions {
  /** PostgreSQL connection string ChronoForge stores runs in, or `'embedded'` for a local server. */
  databaseUrl: string | 'embedded';
  /** Redis URL of the BullMQ queue that carries continuations (unused with `queue: 'postgres'`). */
  redisUrl: string;
  /**
   * BullMQ backend: `'redis'`, or `'postgres'` to keep the queue in PostgreSQL too (schema
   * `<schema>_bullmq`), so that PostgreSQL is the only service the app needs. @default 'redis'
   */
  queue?: 'redis' | 'postgres';
  /** PostgreSQL schema of the ChronoForge tables. */
  schema: string;
  /** BullMQ queue name shared by every process of this deployment. */
  queueName: string;
  /** Durations of the order workflow (cool-off, delivery window); see `DEFAULT_ORDER_TIMINGS`. */
  orders?: Partial<OrderTimings>;
}

/** Defaults used when the environment gives nothing. */
export const SAMPLE_APP_DEFAULTS: SampleAppOptions & { port: number } = {
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: 'redis://127.0.0.1:6379',
  schema: 'chronoforge_sample',
  queueName: 'chronoforge-sample',
  port: 3000,
};

/** The duration in `env[name]` (e.g. `'100ms'`, `'2s'`), or `undefined` when it is not set. */
function durationFromEnv(env: NodeJS.ProcessEnv, name: string): Duration | undefined {
  const value = env[name] as Duration | undefined;
  if (value) durationMs(value, name);
  return value || undefined;
}

/**
 * The zero-service default: when nothing answers at the database URL (`DATABASE_URL` or the default
 * local port), an embedded PostgreSQL (data in `.chronoforge/pgdata`); when Redis does not answer
 * (and `CHRONOFORGE_QUEUE` does not pin the backend), the queue moves to PostgreSQL. `main.ts` logs
 * which database and queue are in use.
 */
export async function resolveServices(
  options: SampleAppOptions & { port: number },
  env: NodeJS.ProcessEnv = process.env,
): Promise<SampleAppOptions & { port: number }> {
  const out = { ...options };
  if (!(await probePostgres(out.databaseUrl)).ok) out.databaseUrl = 'embedded';
  if (!env.CHRONOFORGE_QUEUE && !(await probeRedis(out.redisUrl)).ok) out.queue = 'postgres';
  return out;
}

/**
 * Reads `DATABASE_URL`, `REDIS_URL`, `CHRONOFORGE_QUEUE` (`redis`|`postgres`), `CHRONOFORGE_SCHEMA`,
 * `PORT`, `ORDER_COOL_OFF` and `ORDER_DELIVERY_WINDOW`, falling back to
 * {@link SAMPLE_APP_DEFAULTS} (and the order defaults).
 */
export function sampleAppOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): SampleAppOptions & { port: number } {
  const port = env.PORT ? Number(env.PORT) : SAMPLE_APP_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be an integer between 0 and 65535, got "${env.PORT}".`);
  }
  const queue = env.CHRONOFORGE_QUEUE || 'redis';
  if (queue !== 'redis' && queue !== 'postgres') {
    throw new Error(`CHRONOFORGE_QUEUE must be "redis" or "postgres", got "${queue}".`);
  }
  return {
    databaseUrl: env.DATABASE_URL || SAMPLE_APP_DEFAULTS.databaseUrl,
    redisUrl: env.REDIS_URL || SAMPLE_APP_DEFAULTS.redisUrl,
    queue,
    schema: env.CHRONOFORGE_SCHEMA || SAMPLE_APP_DEFAULTS.schema,
    queueName: SAMPLE_APP_DEFAULTS.queueName,
    orders: {
      coolOff: durationFromEnv(env, 'ORDER_COOL_OFF'),
      deliveryWindow: durationFromEnv(env, 'ORDER_DELIVERY_WINDOW'),
    },
    port,
  };
}

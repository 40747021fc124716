/**
 * Connection settings of the sample application; `AppModule.register()` takes them.
 */
export interface SampleAppOptions {
  /** PostgreSQL connection string ChronoForge stores runs in. */
  databaseUrl: string;
  /** Redis URL of the BullMQ queue that carries continuations. */
  redisUrl: string;
  /** PostgreSQL schema of the ChronoForge tables. */
  schema: string;
  /** BullMQ queue name shared by every process of this deployment. */
  queueName: string;
}

/** Defaults used when the environment gives nothing. */
export const SAMPLE_APP_DEFAULTS: SampleAppOptions & { port: number } = {
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: 'redis://127.0.0.1:6379',
  schema: 'chronoforge_sample',
  queueName: 'chronoforge-sample',
  port: 3000,
};

/**
 * Reads `DATABASE_URL`, `REDIS_URL`, `CHRONOFORGE_SCHEMA` and `PORT`, falling back to
 * {@link SAMPLE_APP_DEFAULTS}.
 */
export function sampleAppOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): SampleAppOptions & { port: number } {
  const port = env.PORT ? Number(env.PORT) : SAMPLE_APP_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be an integer between 0 and 65535, got "${env.PORT}".`);
  }
  return {
    databaseUrl: env.DATABASE_URL || SAMPLE_APP_DEFAULTS.databaseUrl,
    redisUrl: env.REDIS_URL || SAMPLE_APP_DEFAULTS.redisUrl,
    schema: env.CHRONOFORGE_SCHEMA || SAMPLE_APP_DEFAULTS.schema,
    queueName: SAMPLE_APP_DEFAULTS.queueName,
    port,
  };
}

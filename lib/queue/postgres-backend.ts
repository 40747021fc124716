import { createPostgresBackend, type PostgresPoolConfig, withBackend } from 'bullmq';
import { ChronoForgeError } from '../errors/chrono-forge.error.js';
import { QueueUnavailableError } from '../errors/queue-unavailable.error.js';
import { redactUrl } from '../util/redact.util.js';

/**
 * Pool sizes of the PostgreSQL backend (each also has one dedicated LISTEN connection): enqueues
 * are short statements, and a worker needs about one connection per concurrent job.
 */
export const QUEUE_POOL_MAX = 4;
export const WORKER_POOL_MAX = 10;

/** Queue and Worker classes of BullMQ's PostgreSQL backend, bound per queue (not process-wide). */
export const PostgresBullMQ = withBackend(createPostgresBackend);

/** The boot error of a PostgreSQL queue that cannot connect (credentials redacted). */
export function postgresQueueUnavailable(connection: PostgresPoolConfig, err: unknown): Error {
  if (err instanceof ChronoForgeError) return err;
  const where = connection.connectionString
    ? redactUrl(connection.connectionString)
    : `postgres://${connection.host ?? 'localhost'}:${connection.port ?? 5432}/${connection.database ?? ''}`;
  return new QueueUnavailableError(
    `The PostgreSQL queue at ${where} is not reachable: ${redactUrl((err as Error)?.message || String(err))}. ` +
      'Check that the server runs and accepts connections there, and queue.postgres.connectionString (or the database settings it defaults to).',
    { cause: err },
  );
}

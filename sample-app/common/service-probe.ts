import { Redis } from 'ioredis';
import pg from 'pg';

/** Outcome of probing one service. */
export interface ProbeResult {
  ok: boolean;
  /** Why it is not usable, when `ok` is false. */
  reason?: string;
}

/** Connects to PostgreSQL and runs `SELECT 1`, giving up after `timeoutMs`. */
export async function probePostgres(url: string, timeoutMs = 1_500): Promise<ProbeResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message || String(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connects to Redis and sends PING, giving up after `timeoutMs`. */
export async function probeRedis(url: string, timeoutMs = 1_500): Promise<ProbeResult> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error(`no PING reply within ${timeoutMs} ms`)),
          timeoutMs,
        ).unref(),
      ),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: lastError?.message || (err as Error).message || String(err) };
  } finally {
    redis.disconnect();
  }
}

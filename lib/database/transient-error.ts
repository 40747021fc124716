/** SQLSTATE of a driver error (pg's `DatabaseError`, TypeORM's `QueryFailedError`), if any. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  // Five characters with a digit: an errno code (EPIPE, ECONNRESET) is no SQLSTATE.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && /\d/.test(code)
    ? code
    : undefined;
}

/**
 * SQLSTATEs that say the server could not serve the statement now, not that the statement is
 * wrong: 53300 too_many_connections (and the rest of class 53, insufficient resources), 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 40001 / 40P01 (serialization
 * failure, deadlock). Class 08 (connection exception) is checked by its class.
 */
const TRANSIENT_STATES = new Set(['57P01', '57P02', '57P03', '40001', '40P01']);

/** Socket errors of a lost or refused connection. */
const TRANSIENT_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** What pg says, without a code, when a connection ended or could not be taken in time. */
const TRANSIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable/i;

/**
 * Whether `err` is a transient PostgreSQL fault — a refused, lost or reset connection, a server
 * restarting or out of connection slots — after which the same read may succeed when tried again.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const state = sqlState(err);
  if (state !== undefined)
    return state.startsWith('08') || state.startsWith('53') || TRANSIENT_STATES.has(state);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_ERRNOS.has(code)) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && TRANSIENT_MESSAGES.test(message);
}

/** Errors raised by the engine's own statements (tagged where they are issued, type unchanged). */
export const engineStatementErrors = new WeakSet<object>();

/**
 * Tags `err` as the failure of one of the engine's own statements and returns it: once it escapes
 * a durable call, the pass ends as an infrastructure fault instead of handing it to user code.
 */
export function engineStatementFailed<E>(err: E): E {
  if (typeof err === 'object' && err !== null) engineStatementErrors.add(err);
  return err;
}

/** Runs one of the engine's statements, tagging what it throws (see `engineStatementFailed`). */
export async function engineStatement<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (err) {
    throw engineStatementFailed(err);
  }
}

/** A `catch` handler: rethrows `err` tagged as an engine statement's failure. */
export function rethrowEngineFailure(err: unknown): never {
  throw engineStatementFailed(err);
}

/** Runs `fn`, turning what it throws into a rejection (for callers that are not `async`). */
export function rejectThrown<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Thrown when a write finds that this pass no longer owns the run's lock. */
export class LockLostError extends Error {
  constructor(readonly workflowId: string) {
    super(`Lost the lock of run ${workflowId}; another pass owns it now.`);
    this.name = 'LockLostError';
  }
}

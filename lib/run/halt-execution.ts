/**
 * Thrown to unwind the workflow method when the pass must stop and continue later (a timer, a
 * step retry backoff, a shutdown). The executor turns it into a release plus a continuation.
 */
export class HaltExecution extends Error {
  constructor() {
    super('ChronoForge halted this pass; do not catch this error.');
    this.name = 'HaltExecution';
  }
}

import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * One of the engine's own statements failed during a pass (a step's checkpoint, a timer's pending
 * log, a signal consumption, a branch write: deadlock, statement timeout, connection reset,
 * failover). It is not the outcome of the durable call: the pass ends at once (every later durable
 * call of the pass rejects with this error too, whatever the workflow code catches) and a later
 * pass continues the run within seconds. A step body whose checkpoint failed runs again then
 * (at-least-once; a transactional step's writes rolled back with its checkpoint). `cause` carries
 * the driver's error.
 *
 * @publicApi
 */
export class EngineFaultError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_ENGINE_FAULT';
}

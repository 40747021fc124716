import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A workflow returned while a branch it opened was never merged. Call `ctx.merge(name)` or use `@Branch({ automerge: true })`.
 *
 * @publicApi
 */
export class UnmergedBranchError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_UNMERGED_BRANCH';
}

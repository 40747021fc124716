import type { RunScope } from '../run/run-scope.js';

/**
 * Whether the run of `scope` passed its deadline. A rollback is never cut short by the deadline
 * (it is what the deadline may have started), so a `compensating` run never has.
 */
export function pastDeadline(scope: RunScope): boolean {
  const deadline = scope.run.deadline_at;
  if (deadline == null || scope.run.state === 'compensating') return false;
  return scope.now() >= new Date(deadline).getTime();
}

import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The schedule is declared by `@Scheduled()` in code: it is changed by changing the decorator and
 * redeploying, not by `client.schedules.update` or `delete` (pause, resume, trigger and backfill
 * work on it).
 *
 * @publicApi
 */
export class ScheduleNotEditableError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_SCHEDULE_NOT_EDITABLE';

  constructor(
    readonly scheduleName: string,
    action: string,
  ) {
    super(
      `Cannot ${action} schedule "${scheduleName}": it is declared by @Scheduled() on a workflow method. ` +
        'Change or remove the decorator and redeploy; pause() stops it meanwhile.',
    );
  }
}

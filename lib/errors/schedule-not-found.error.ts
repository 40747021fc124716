import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * No schedule has the given name.
 *
 * @publicApi
 */
export class ScheduleNotFoundError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_SCHEDULE_NOT_FOUND';

  constructor(readonly scheduleName: string) {
    super(
      `No schedule is named "${scheduleName}". List them with client.schedules.list() (or \`chronoforge schedules\`).`,
    );
  }
}

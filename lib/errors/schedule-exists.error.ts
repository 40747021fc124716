import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A schedule name is already taken: by `client.schedules.create()`, or by two `@Scheduled()`
 * methods.
 *
 * @publicApi
 */
export class ScheduleExistsError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_SCHEDULE_EXISTS';

  constructor(
    readonly scheduleName: string,
    message = `A schedule named "${scheduleName}" already exists. Change it with client.schedules.update(), or delete it first.`,
  ) {
    super(message);
  }
}

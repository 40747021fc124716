import { Injectable } from '@nestjs/common';
import { ScheduleExistsError } from '../errors/schedule-exists.error.js';
import type { ScheduledOptions } from './schedule.interface.js';
import { assertScheduleName, type ScheduleSpec, toScheduleSpec } from './schedule-spec.js';

/** A schedule declared with `@Scheduled()`. */
export interface DeclaredSchedule {
  name: string;
  spec: ScheduleSpec;
  /** `Class#method`, for messages. */
  where: string;
}

/** The `@Scheduled()` schedules this process declares, collected at discovery. */
@Injectable()
export class ScheduleRegistry {
  private readonly byName = new Map<string, DeclaredSchedule>();

  /** Validates and adds the `@Scheduled(cron, options)` of workflow `workflow` (at `where`). */
  declare(workflow: string, cron: string, options: ScheduledOptions, where: string): void {
    const name = options.name ?? workflow;
    assertScheduleName(name);
    const spec = toScheduleSpec({ ...options, cron, workflow }, `"${name}" (${where})`);
    const existing = this.byName.get(name);
    if (existing) {
      throw new ScheduleExistsError(
        name,
        `Schedule name "${name}" is declared by both ${existing.where} and ${where}. Give one of them another name in @Scheduled(cron, { name }).`,
      );
    }
    this.byName.set(name, { name, spec, where });
  }

  get(name: string): DeclaredSchedule | undefined {
    return this.byName.get(name);
  }

  all(): DeclaredSchedule[] {
    return [...this.byName.values()];
  }
}

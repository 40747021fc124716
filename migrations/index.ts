import { InitChronoForge1763900000000 } from './1763900000000-init-chrono-forge.js';
import { AddChronoForgeSignals1763900000001 } from './1763900000001-add-chrono-forge-signals.js';
import { AddChronoForgeWorkers1763900000002 } from './1763900000002-add-chrono-forge-workers.js';
import { ChronoForgeStepLogCascade1763900000003 } from './1763900000003-step-log-cascade-trigger.js';
import { ChronoForgeRunFinishedAt1763900000004 } from './1763900000004-run-finished-at.js';
import { ChronoForgeForeignKeyIndexes1763900000005 } from './1763900000005-index-foreign-keys.js';
import { ChronoForgeLimits1763900000006 } from './1763900000006-add-chrono-forge-limits.js';
import { ChronoForgeSagasLifecycle1763900000010 } from './1763900000010-sagas-lifecycle.js';
import { AddChronoForgeSchedules1763900000021 } from './1763900000021-add-chrono-forge-schedules.js';
import { ChronoForgeVersioning1763900000030 } from './1763900000030-versioning.js';
import { ChronoForgeFlowControl1763900000170 } from './1763900000170-flow-control.js';
import { ChronoForgeComposition1763900000180 } from './1763900000180-composition.js';
import { ChronoForgeSearchAttributes1763900000190 } from './1763900000190-search-attributes.js';
import { ChronoForgeAnalyticsIndexes1763900000200 } from './1763900000200-analytics-indexes.js';
import { ChronoForgeLimitWakePending1763900000210 } from './1763900000210-limit-wake-pending.js';

export {
  ChronoForgeAnalyticsIndexes1763900000200,
  AddChronoForgeSchedules1763900000021,
  ChronoForgeComposition1763900000180,
  ChronoForgeLimitWakePending1763900000210,
  ChronoForgeFlowControl1763900000170,
  AddChronoForgeSignals1763900000001,
  AddChronoForgeWorkers1763900000002,
  ChronoForgeRunFinishedAt1763900000004,
  ChronoForgeForeignKeyIndexes1763900000005,
  ChronoForgeLimits1763900000006,
  ChronoForgeSagasLifecycle1763900000010,
  ChronoForgeSearchAttributes1763900000190,
  ChronoForgeStepLogCascade1763900000003,
  ChronoForgeVersioning1763900000030,
  InitChronoForge1763900000000,
};

/**
 * ChronoForge's TypeORM migrations, in order. Add them to your own DataSource's `migrations` when
 * you run migrations with the TypeORM CLI instead of `migrationsRun`.
 *
 * @publicApi
 */
export const chronoForgeMigrations = [
  InitChronoForge1763900000000,
  AddChronoForgeSignals1763900000001,
  AddChronoForgeWorkers1763900000002,
  ChronoForgeStepLogCascade1763900000003,
  ChronoForgeRunFinishedAt1763900000004,
  ChronoForgeForeignKeyIndexes1763900000005,
  ChronoForgeLimits1763900000006,
  ChronoForgeSagasLifecycle1763900000010,
  AddChronoForgeSchedules1763900000021,
  ChronoForgeVersioning1763900000030,
  ChronoForgeFlowControl1763900000170,
  ChronoForgeComposition1763900000180,
  ChronoForgeSearchAttributes1763900000190,
  ChronoForgeAnalyticsIndexes1763900000200,
  ChronoForgeLimitWakePending1763900000210,
];

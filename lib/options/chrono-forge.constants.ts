/** Metadata key of `@Workflow()`. */
export const WORKFLOW_METADATA = 'chronoforge:workflow';
/** Metadata key of `@DurableStep()`. */
export const STEP_METADATA = 'chronoforge:step';
/** Metadata key of `@Repeat()`. */
export const REPEAT_METADATA = 'chronoforge:repeat';

/** DI token of the validated, defaulted module options. */
export const CHRONO_FORGE_RESOLVED_OPTIONS = Symbol('CHRONO_FORGE_RESOLVED_OPTIONS');

/** BullMQ job name of a workflow pass. */
export const RUN_JOB = 'run';

/** Metadata key of `@Branch()`. */
export const BRANCH_METADATA = 'chronoforge:branch';

/** BullMQ job name of a BranchMergeJob poll. */
export const MERGE_JOB = 'merge';

/** BullMQ job name of a scheduled cleanup (the `cleanup` module option). */
export const CLEANUP_JOB = 'cleanup';

/** Id of the BullMQ job scheduler that produces `cleanup` jobs: one per queue, whatever the process count. */
export const CLEANUP_SCHEDULER_ID = 'chronoforge-cleanup';

/** Metadata key of `@Scheduled()`. */
export const SCHEDULED_METADATA = 'chronoforge:scheduled';

/** Metadata key of `@OnCancel()` (its options). */
export const ON_CANCEL_METADATA = 'chronoforge:on-cancel';

/** Metadata key of `@UseWorkflowInterceptors()` (on a class or a workflow method). */
export const INTERCEPTORS_METADATA = 'chronoforge:interceptors';

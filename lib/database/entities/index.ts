import { ErrorLogEntity } from './error-log.entity.js';
import { ExecutionLogEntity } from './execution-log.entity.js';
import { WorkflowEntity } from './workflow.entity.js';

export * from './error-log.entity.js';
export * from './execution-log.entity.js';
export * from './workflow.entity.js';

/** ChronoForge's entities, to add to your own DataSource if you query runs with TypeORM. */
export const chronoForgeEntities = [WorkflowEntity, ExecutionLogEntity, ErrorLogEntity];

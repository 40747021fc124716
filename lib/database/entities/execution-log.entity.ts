import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** States of a step log. */
export type ExecutionLogState = 'pending' | 'completed' | 'failed';

/**
 * One durable step of a run (`chrono_forge_execution_logs`), unique by `(workflowId, stepName)`.
 *
 * @publicApi
 */
@Entity('chrono_forge_execution_logs')
export class ExecutionLogEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column('bigint', { name: 'workflow_id' }) workflowId: string;
  @Column('text', { name: 'step_name' }) stepName: string;
  @Column('text') state: ExecutionLogState;
  @Column('int') attempts: number;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'last_executed_at', nullable: true }) lastExecutedAt: Date | null;
  @Column('timestamptz', { name: 'completed_at', nullable: true }) completedAt: Date | null;
  @Column('jsonb', { nullable: true }) result: unknown;
  @Column('jsonb') metadata: Record<string, unknown>;
  @Column('text', { name: 'error_class', nullable: true }) errorClass: string | null;
  @Column('text', { name: 'error_message', nullable: true }) errorMessage: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
}

import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One failed attempt (`chrono_forge_error_logs`).
 *
 * @publicApi
 */
@Entity('chrono_forge_error_logs')
export class ErrorLogEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column('bigint', { name: 'workflow_id' }) workflowId: string;
  @Column('bigint', { name: 'execution_log_id', nullable: true }) executionLogId: string | null;
  @Column('text', { name: 'step_name', nullable: true }) stepName: string | null;
  @Column('int', { nullable: true }) attempt: number | null;
  @Column('text', { name: 'error_class' }) errorClass: string;
  @Column('text', { name: 'error_message', nullable: true }) errorMessage: string | null;
  @Column('text', { nullable: true }) backtrace: string | null;
  @Column('jsonb', { nullable: true }) context: unknown;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
}

import { Injectable } from '@nestjs/common';
import { MERGE_JOB, RUN_JOB } from '../options/chrono-forge.constants.js';
import { runJobId, WorkflowQueue } from '../queue/workflow.queue.js';
import type { MergeJobData } from './branch.runner.js';

/** Enqueues spawned children and BranchMergeJob polls on the engine's queue. */
@Injectable()
export class BranchJobs {
  constructor(private readonly queue: WorkflowQueue) {}

  /** One `addBulk` for a batch of children; ids collapse with any job already queued for them. */
  async enqueueChildren(children: { id: string; next_run_at: Date }[]): Promise<void> {
    if (children.length === 0) return;
    await this.queue.bullQueue.addBulk(
      children.map((c) => ({
        name: RUN_JOB,
        data: { workflowId: c.id },
        opts: { jobId: runJobId(c.id, new Date(c.next_run_at).getTime()) },
      })),
    );
  }

  /** Schedules poll number `poll` of a merge after `delayMs`. */
  async enqueueMerge(data: MergeJobData, delayMs: number, poll: number): Promise<void> {
    await this.queue.bullQueue.add(MERGE_JOB, data, {
      jobId: `merge-${data.parentId}-${data.token}-${poll}`,
      delay: Math.max(0, Math.round(delayMs)),
    });
  }
}

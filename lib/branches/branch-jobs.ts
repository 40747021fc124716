import { Injectable } from '@nestjs/common';
import { MERGE_JOB, RUN_JOB } from '../chrono-forge.constants.js';
import { engineStatement } from '../executor/run-scope.js';
import { runJobId, WorkflowQueue } from '../queue/workflow.queue.js';
import type { MergeJobData } from './branch.runner.js';

/** Enqueues spawned children and BranchMergeJob polls on the engine's queue. */
@Injectable()
export class BranchJobs {
  constructor(private readonly queue: WorkflowQueue) {}

  /**
   * One `addBulk` for a batch of children; ids collapse with any job already queued for them. A
   * failure is tagged as the engine's (`engineStatement`): the children are stored already, so
   * during a pass it is an infrastructure fault (`EngineFaultError`, the pass ends and a later
   * pass enqueues them), never a failed spawn that the workflow could catch and go on from.
   */
  async enqueueChildren(children: { id: string; next_run_at: Date }[]): Promise<void> {
    if (children.length === 0) return;
    await engineStatement(() =>
      this.queue.bullQueue.addBulk(
        children.map((c) => ({
          name: RUN_JOB,
          data: { workflowId: c.id },
          opts: { jobId: runJobId(c.id, new Date(c.next_run_at).getTime()) },
        })),
      ),
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

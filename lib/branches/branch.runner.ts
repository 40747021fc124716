import { Injectable } from '@nestjs/common';
import { type WorkflowDefinition, WorkflowRegistry } from '../definitions/workflow.registry.js';
import { checkNewRun } from '../definitions/input-validation.js';
import { ChildKeyConflictError } from '../errors/child-key-conflict.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { NestedBranchError } from '../errors/nested-branch.error.js';
import { UnmergedBranchError } from '../errors/unmerged-branch.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { type RunScope } from '../run/run-scope.js';
import { branchStorage } from '../run/call-storage.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { engineStatement } from '../database/engine-statement.js';
import { crashPoint, spawnTarget } from '../steps/fault-injector.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { MergeRunner } from './merge.runner.js';
import type { MergeResult } from './merge-result.js';
import {
  childKeyPrefix,
  KEY_PREFIX,
  type MergeOptions,
  spawnFrame,
  type SpawnSpec,
} from './branch-specs.js';
import { BranchStore, type ChildRow } from './branch.store.js';
import { type SpawnCursor, type SpawnSource, spawnBatches } from './spawn-source.js';

/**
 * chrono_forge 0.10 branches: `@Branch()` scopes, `spawn`/`spawnEach` (batched, cursor-resumable,
 * idempotent by child key) and `merge` (inline when done, otherwise a fenced BranchMergeJob).
 */
@Injectable()
export class BranchRunner {
  constructor(
    private readonly store: WorkflowStore,
    private readonly branches: BranchStore,
    private readonly registry: WorkflowRegistry,
    private readonly queue: WorkflowQueue,
    private readonly merges: MergeRunner,
  ) {}

  /** Runs the body of branch `name` unless it is sealed; seals it when the body returns. */
  async branch(
    scope: RunScope,
    name: string,
    automerge: boolean,
    body: () => Promise<unknown>,
  ): Promise<void> {
    if (branchStorage.getStore())
      throw new NestedBranchError(
        `Branch "${name}" was opened inside branch "${branchStorage.getStore()?.name}"; branches cannot be nested. ` +
          `Call the @Branch method "${name}" from the workflow method itself (after the outer branch returned), ` +
          'or spawn a child workflow that opens its own branch.',
      );
    if (scope.openBranches.has(name))
      throw new InvalidOptionsError(`Branch "${name}" was opened twice in one run.`);
    const stepName = `branch$${name}`;
    scope.enter(stepName);
    let log = scope.logs.get(stepName);
    // A sealed branch replays; an open one does new work, refused once the pass halted or lost.
    if (log?.state === 'completed') scope.assertOwned();
    else scope.assertCanWork();
    if (!log) {
      const metadata = { cursors: {}, [KEY_PREFIX]: childKeyPrefix(scope.run, name) };
      const id = await this.store.savePendingLog(scope.run.id, scope.owner, stepName, 1, metadata);
      log = { id, step_name: stepName, state: 'pending', attempts: 1, result: null, metadata };
      scope.logs.set(stepName, log);
    }
    scope.openBranches.set(name, { logId: log.id, merged: false });
    if (log.state !== 'completed') {
      const frame = {
        name,
        logId: log.id,
        cursors: { ...((log.metadata.cursors as Record<string, unknown>) ?? {}) },
      };
      await branchStorage.run(frame, body);
      crashPoint(scope, stepName, 'before');
      const id = await this.store.completeStep(
        scope.run.id,
        scope.owner,
        stepName,
        log.attempts,
        null,
        { ...log.metadata, cursors: frame.cursors },
        new Date(),
        undefined,
        false,
        scope,
      );
      if (id === null) throw new LockLostError(scope.run.id);
      crashPoint(scope, stepName, 'after');
      scope.logs.set(stepName, {
        ...log,
        state: 'completed',
        metadata: { ...log.metadata, cursors: frame.cursors },
      });
    }
    if (automerge) await this.merge(scope, [name], {});
  }

  async spawn(scope: RunScope, name: string, spec: SpawnSpec): Promise<void> {
    scope.assertCanWork();
    const frame = spawnFrame(name);
    const toEnqueue = await this.dispatch(
      scope,
      frame,
      name,
      [{ item: spec, suffix: '' }],
      (s) => ({ ...s, key: s.key ?? name }),
      { n: 0 },
    );
    await engineStatement(() => this.queue.enqueueChildren(toEnqueue));
  }

  async spawnEach<T>(
    scope: RunScope,
    name: string,
    source: SpawnSource<T>,
    map: (item: T, index: number) => SpawnSpec,
    of: number,
  ): Promise<void> {
    scope.assertCanWork();
    const frame = spawnFrame(name);
    if (!Number.isInteger(of) || of < 1 || of > 10_000)
      throw new InvalidOptionsError('spawnEach `of` must be an integer in 1..10000.');
    if (typeof map !== 'function') throw new InvalidOptionsError('spawnEach needs a map function.');
    const cursor = (frame.cursors[name] as SpawnCursor | undefined) ?? { n: 0, pk: null };
    if (cursor.done) return;
    let last = cursor;
    // NOTE: the enqueue of a batch overlaps the mapping and insert of the next one. Each batch is
    // enqueued only once its insert (and cursor) committed, and at most one enqueue is in flight;
    // a lost enqueue (a crash while it is in flight) leaves persisted, never-started children that
    // the recovery sweeper and the BranchMergeJob re-kick pick up.
    let enqueuing: Promise<void> = Promise.resolve();
    try {
      for await (const batch of spawnBatches(source, of, cursor)) {
        let i = last.n;
        const suffixes = batch.items.map((b) => b.suffix);
        const toEnqueue = await this.dispatch(
          scope,
          frame,
          name,
          batch.items,
          (item) => map(item, i++),
          batch.cursor,
          suffixes,
        );
        await enqueuing;
        enqueuing = engineStatement(() => this.queue.enqueueChildren(toEnqueue));
        enqueuing.catch(() => undefined); // awaited before the next enqueue or at the end
        last = batch.cursor;
      }
      await this.dispatch(scope, frame, name, [], () => ({ workflow: '' }), {
        ...last,
        done: true,
      });
    } finally {
      // Never leave an enqueue behind the pass; its own error surfaces below when nothing else did.
      await enqueuing.catch(() => undefined);
    }
    await enqueuing;
  }

  /**
   * Maps and validates one batch, inserts it with the cursor in one fenced statement, and returns
   * the children to enqueue (inserted now or never started).
   */
  private async dispatch<T>(
    scope: RunScope,
    frame: { logId: string; name: string; cursors: Record<string, unknown> },
    name: string,
    items: Array<{ item: T; suffix: string }>,
    toSpec: (item: T) => SpawnSpec,
    cursor: SpawnCursor,
    suffixes?: string[],
  ): Promise<{ id: string; next_run_at: Date }[]> {
    const children: ChildRow[] = [];
    const stored = scope.logs.get(`branch$${frame.name}`)?.metadata[KEY_PREFIX];
    // A branch opened before child keys carried the parent's workflow keeps its old prefix, so the
    // children it spawns again after the deploy collapse with those it spawned before.
    const prefix = typeof stored === 'string' ? stored : `${scope.run.key}$${frame.name}$`;
    let def: WorkflowDefinition | undefined;
    for (let i = 0; i < items.length; i++) {
      const spec = toSpec(items[i].item);
      // Consecutive children mostly share their workflow: look it up once per run of equal names.
      if (def?.name !== spec?.workflow) def = this.registry.get(spec?.workflow);
      if (!def)
        throw new WorkflowNotFoundError(
          `spawn "${name}": no workflow "${spec?.workflow}" is registered.`,
        );
      const suffix = suffixes ? `${name}_${suffixes[i]}` : (spec.key ?? name);
      const key = prefix + suffix;
      const input = spec.input ?? null;
      await checkNewRun(def, key, input);
      const { maxDurationMs, timeoutMs = null } = def;
      children.push({ key, workflow: def.name, input, maxDurationMs, timeoutMs });
    }
    crashPoint(scope, spawnTarget(frame.name, name), 'before');
    const dispatched = await this.branches.dispatch(
      scope.run.id,
      scope.owner,
      frame.logId,
      children,
      name,
      cursor as unknown as Record<string, unknown>,
    );
    if (dispatched === null) throw new LockLostError(scope.run.id);
    if (dispatched.conflicts.length > 0) {
      // The children inserted with this batch are kept (never started): they are enqueued when
      // the batch is dispatched again, e.g. after `client.retry` once the conflicting run is gone.
      throw new ChildKeyConflictError(
        `spawn "${name}": child key(s) ${dispatched.conflicts
          .slice(0, 5)
          .map((k) => JSON.stringify(k))
          .join(', ')} belong to runs that are not children of branch "${frame.name}" of this run.`,
      );
    }
    crashPoint(scope, spawnTarget(frame.name, name), 'after');
    frame.cursors[name] = cursor;
    return dispatched.toEnqueue;
  }

  /** Joins branches (see {@link MergeRunner.merge}) and returns their children's outcomes. */
  merge<R = unknown>(
    scope: RunScope,
    names: string[],
    options: MergeOptions,
  ): Promise<MergeResult<R>> {
    return this.merges.merge<R>(scope, names, options);
  }

  /** Raises UnmergedBranchError when the workflow returns with a branch it never merged. */
  assertAllMerged(scope: RunScope): void {
    const unmerged = [...scope.openBranches].filter(([, b]) => !b.merged).map(([n]) => n);
    if (unmerged.length > 0) {
      throw new UnmergedBranchError(
        `Branch(es) ${unmerged.join(', ')} were opened but never merged. Add ctx.merge(${unmerged.map((n) => `'${n}'`).join(', ')}) or use @Branch({ automerge: true }).`,
      );
    }
  }
}

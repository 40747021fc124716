import { Injectable } from '@nestjs/common';
import { MetadataScanner } from '@nestjs/core';
import { RUN_STATES, type WorkflowState } from '../../database/entities/workflow.entity.js';
import { WorkflowRegistry } from '../../definitions/workflow.registry.js';
import { WorkflowMetadataAccessor } from '../../discovery/workflow-metadata.accessor.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import { RunListStore } from '../../inspection/run-list.store.js';
import { span } from '../../web/format.util.js';

/** What kind of durable call a node of the graph is, by the prefix of its step-log name. */
const KINDS: Record<string, string> = {
  step: 'step',
  wait: 'sleep',
  wait_until: 'waitUntil',
  continue_if: 'continueIf',
  signal: 'signal',
  durably_repeat: 'repeat',
  branch: 'branch',
  merge: 'merge',
  event: 'event',
  call: 'call',
  child: 'child',
  join: 'join',
  lock: 'lock',
  once: 'once',
};

/** One node of a run's path: a durable call, `count` times in a row (a loop or repeat ticks). */
export interface GraphNode {
  kind: string;
  name: string;
  count: number;
  /** State of the last log of the node (`pending`: the run is there now). */
  state: string;
}

/** A method of the workflow's class made durable by a decorator. */
export interface DeclaredMethod {
  kind: 'step' | 'repeat' | 'branch';
  name: string;
  method: string;
  /** Its options in words: `timeout 5s`, `every 1h`, `automerge`. */
  detail: string[];
}

/** A workflow's definition (from the registry and its class's decorators) and a run's path. */
export interface WorkflowGraph {
  workflow: string;
  /** `Class#method`; `undefined` when this process does not register the workflow. */
  where?: string;
  version?: string;
  maxDurationMs?: number;
  declared: DeclaredMethod[];
  /** Signals declared with payload DTOs (`@Workflow({ signals })`), with the DTO class. */
  signals: { name: string; dto: string }[];
  /** Run-level limits and start rules, in words. */
  rules: string[];
  onCancel?: string;
  /** The run whose path is shown: the newest completed one, else the newest. */
  sample?: { id: string; key: string; state: WorkflowState };
  path: GraphNode[];
}

/** Most step logs of the sample run read into the path. */
const MAX_LOGS = 1000;

const words = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);

/** The kind and name of a step-log name (`step$reserve#2` → step `reserve`), `null` if internal. */
export function nodeOf(stepName: string): { kind: string; name: string } | null {
  if (stepName.startsWith('$')) return null;
  const cut = stepName.indexOf('$');
  const kind = KINDS[cut < 0 ? '' : stepName.slice(0, cut)];
  if (!kind) return null;
  const rest = stepName.slice(cut + 1);
  // A repeat tick (`durably_repeat$name$<tick>`) belongs to its repeat.
  const name = (kind === 'repeat' ? rest.split('$')[0] : rest).replace(/#\d+$/, '');
  return { kind, name };
}

/** Consecutive logs of the same call folded into one node with a count. */
export function pathOf(logs: readonly { step_name: string; state: string }[]): GraphNode[] {
  const path: GraphNode[] = [];
  for (const log of logs) {
    const node = nodeOf(log.step_name);
    if (!node) continue;
    const last = path[path.length - 1];
    if (last && last.kind === node.kind && last.name === node.name) {
      last.count++;
      last.state = log.state;
    } else path.push({ ...node, count: 1, state: log.state });
  }
  return path;
}

/** Builds the definition graph of a workflow for the dashboard. */
@Injectable()
export class WorkflowGraphs {
  private readonly scanner = new MetadataScanner();

  constructor(
    private readonly registry: WorkflowRegistry,
    private readonly accessor: WorkflowMetadataAccessor,
    private readonly runs: RunListStore,
  ) {}

  async graph(workflow: string): Promise<WorkflowGraph> {
    const def = this.registry.get(workflow);
    const sample = await this.sample(workflow);
    if (!def && !sample)
      throw new WorkflowNotFoundError(
        `No workflow "${workflow}": none is registered under that name and it has no runs.`,
      );
    const path = sample
      ? pathOf(
          await this.runs.query<{ step_name: string; state: string }>(
            `SELECT step_name, state FROM ${this.runs.table('execution_logs')}
             WHERE workflow_id = $1 ORDER BY id LIMIT ${MAX_LOGS}`,
            [sample.id],
          ),
        )
      : [];
    const graph: WorkflowGraph = { workflow, declared: [], signals: [], rules: [], sample, path };
    if (!def) return graph;
    graph.where = `${def.target.name}#${def.methodName}`;
    graph.version = def.version;
    graph.maxDurationMs = def.maxDurationMs;
    graph.declared = this.declared(def.target.prototype as object);
    graph.signals = Object.entries(def.signalTypes ?? {}).map(([name, dto]) => ({
      name,
      dto: dto.name,
    }));
    graph.rules = [
      def.limits?.concurrency && 'concurrency limit',
      def.limits?.rate && 'rate limit',
      def.flow?.singleton && `singleton (${def.flow.singleton.mode})`,
      def.flow?.debounce && `debounce ${span(def.flow.debounce.periodMs)}`,
      def.flow?.priority ? `priority ${def.flow.priority}` : undefined,
    ].filter((r): r is string => typeof r === 'string');
    graph.onCancel = def.onCancel?.where;
    return graph;
  }

  /**
   * The newest completed run of `workflow`, else its newest run: the newest of each state through
   * the `(job_name, state, id)` index, never a walk of the runs table by id.
   */
  private async sample(workflow: string): Promise<WorkflowGraph['sample']> {
    // NOTE: state as a range and ordered by (state, id): with `state = x` the planner reduces the
    // order to `id` and may bet on the primary key backwards, filtering the whole table.
    const [run] = await this.runs.query<{ id: string; key: string; state: WorkflowState }>(
      `SELECT r.id, r.key, r.state FROM unnest($2::text[]) s(state)
       CROSS JOIN LATERAL (SELECT id, key, state FROM ${this.runs.table('workflows')} w
         WHERE w.job_name = $1 AND w.state >= s.state AND w.state <= s.state
         ORDER BY w.state DESC, w.id DESC LIMIT 1) r
       ORDER BY (r.state = 'completed') DESC, r.id DESC LIMIT 1`,
      [workflow, RUN_STATES],
    );
    return run;
  }

  /** The `@DurableStep`, `@Repeat` and `@Branch` methods of the workflow's class. */
  private declared(proto: object): DeclaredMethod[] {
    const found: DeclaredMethod[] = [];
    for (const method of this.scanner.getAllMethodNames(proto)) {
      const fn = (proto as Record<string, unknown>)[method];
      const step = this.accessor.getStep(fn);
      const repeat = this.accessor.getRepeat(fn);
      const branch = this.accessor.getBranch(fn);
      if (step) {
        const detail = [
          step.timeout !== undefined && `timeout ${words(step.timeout)}`,
          step.retry !== undefined && 'own retry policy',
          step.limit !== undefined && 'limited',
          step.compensate !== undefined && 'compensated',
          step.transactional === true && 'transactional',
        ].filter((d): d is string => typeof d === 'string');
        found.push({ kind: 'step', name: step.name ?? method, method, detail });
      }
      if (repeat) {
        const detail = [`every ${words(repeat.every)}`];
        if (repeat.till)
          detail.push(`till ${typeof repeat.till === 'string' ? repeat.till : 'fn'}`);
        found.push({ kind: 'repeat', name: repeat.name ?? method, method, detail });
      }
      if (branch) {
        const detail = branch.automerge ? ['automerge'] : [];
        found.push({ kind: 'branch', name: branch.name ?? method, method, detail });
      }
    }
    return found;
  }
}

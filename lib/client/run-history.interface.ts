import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { StoredValue } from '../util/serialization.util.js';

/** The `format` of an exported run history. @publicApi */
export const HISTORY_FORMAT = 'chronoforge.run-history';
/** The version of that format; a new version is only made for a change old readers cannot read. */
export const HISTORY_FORMAT_VERSION = 1;

/**
 * A run's history as `client.export(key)` and `chronoforge export <key>` write it (stable JSON;
 * read back by the testing kit's `replay`). Stored values keep the engine's encoding (`StoredValue`).
 *
 * @publicApi
 */
export interface RunHistoryExport {
  format: typeof HISTORY_FORMAT;
  formatVersion: typeof HISTORY_FORMAT_VERSION;
  /** ISO time of the export. */
  exportedAt: string;
  run: {
    id: string;
    key: string;
    workflow: string;
    /** `@Workflow({ version })` the run started with. */
    version: string | null;
    state: WorkflowState;
    input: unknown;
    /** The durable state (`ctx.state`) at the export. */
    context: Record<string, unknown>;
    result: StoredValue | null;
    /** Durable calls by position (`null` for runs recorded before histories existed). */
    history: Array<string | null> | null;
    forkedFrom: string | null;
  };
  /** Step logs, in the order they were first written. */
  steps: Array<{
    id: string;
    name: string;
    state: 'pending' | 'completed' | 'failed';
    attempts: number;
    result: StoredValue | null;
    metadata: Record<string, unknown>;
  }>;
}

/** In-flight runs of one workflow version (`client.versions()`). @publicApi */
export interface WorkflowVersionInfo {
  workflow: string;
  /** `null`: runs of a workflow without `@Workflow({ version })` (or started before it had one). */
  version: string | null;
  /** Runs not yet ended (idle, running, stalled, compensating). */
  inFlight: number;
  /** Live workers (heartbeat within `worker.deadAfter`) that serve this version. */
  workers: number;
}

/** Options of `client.fork()`. @publicApi */
export interface ForkOptions {
  /** The step to execute again, and every durable call after it: `'charge'` or `'step$charge'`. */
  fromStep: string;
  /** Key of the new run. @default `<key>-fork-<n>` */
  newKey?: string;
  /** Input of the new run. @default the source run's input */
  input?: unknown;
}

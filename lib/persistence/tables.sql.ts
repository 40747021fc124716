/** Quoted, schema-qualified names of the engine's tables. */
export interface WorkflowTables {
  readonly wf: string;
  readonly logs: string;
  readonly errors: string;
  readonly signals: string;
  readonly workers: string;
}

/** The tables of `schema` (a name validated by the options; quoted here). */
export function workflowTables(schema: string): WorkflowTables {
  const s = `"${schema}"`;
  return {
    wf: `${s}.chrono_forge_workflows`,
    logs: `${s}.chrono_forge_execution_logs`,
    errors: `${s}.chrono_forge_error_logs`,
    signals: `${s}.chrono_forge_signals`,
    workers: `${s}.chrono_forge_workers`,
  };
}

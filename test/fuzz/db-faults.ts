import type { SqlFaultKind } from './program.js';

/**
 * One failed SQL statement, injected AT THE DATABASE: row triggers on the suite's own engine
 * tables classify each written row of a run into a statement kind and raise (SQLSTATE 57014, as a
 * statement timeout does) on the nth statement of the armed kind for that run. The counter is a
 * sequence, so it survives the rollback the error causes, and the fault fires exactly once.
 *
 * Kinds: `lock` (a pass takes the lock), `unlock` (a pass or an operator releases it: release,
 * complete, fail, cancel, retry; also the completion / failure log those statements insert), `wf` (any other update of the run row), `log.insert` /
 * `log.update` (execution logs: checkpoints, failed attempts, timers, repeats, branches),
 * `signal` (consuming or storing a signal); `commit`: a deferred trigger counts the completed step
 * logs of the run written and raises when the nth one's transaction COMMITs (a transactional step's
 * checkpoint-and-COMMIT, or the end of a single or multi-row checkpoint statement).
 */
export function faultDdl(schema: string): string[] {
  const s = `"${schema}"`;
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.fuzz_faults (workflow_id bigint PRIMARY KEY, kind text NOT NULL,
       nth int NOT NULL, seq text NOT NULL)`,
    `CREATE OR REPLACE FUNCTION ${s}.fuzz_fault() RETURNS trigger LANGUAGE plpgsql AS $f$
     DECLARE wid bigint; k text; f record; n bigint;
     BEGIN
       IF TG_TABLE_NAME = 'chrono_forge_workflows' THEN
         wid := NEW.id;
         IF NEW.locked_by IS NOT NULL AND NEW.locked_by IS DISTINCT FROM OLD.locked_by THEN k := 'lock';
         ELSIF NEW.locked_by IS NULL AND OLD.locked_by IS NOT NULL THEN k := 'unlock';
         ELSE k := 'wf'; END IF;
       ELSIF TG_TABLE_NAME = 'chrono_forge_execution_logs' THEN
         wid := NEW.workflow_id; k := 'log.' || lower(TG_OP);
         -- completion and failure logs are written by the statement that releases the lock
         IF starts_with(NEW.step_name, '$workflow_completion$')
           OR starts_with(NEW.step_name, '$workflow_failure$') THEN k := 'unlock'; END IF;
       ELSE
         wid := NEW.workflow_id; k := 'signal';
       END IF;
       SELECT * INTO f FROM ${s}.fuzz_faults WHERE workflow_id = wid AND kind = k;
       IF FOUND THEN
         n := nextval(f.seq);
         IF n = f.nth THEN
           RAISE EXCEPTION 'fuzz fault: % statement #% on run %', k, n, wid USING ERRCODE = '57014';
         END IF;
       END IF;
       RETURN NEW;
     END $f$`,
    `CREATE TRIGGER fuzz_fault_wf BEFORE UPDATE ON ${s}.chrono_forge_workflows
       FOR EACH ROW EXECUTE FUNCTION ${s}.fuzz_fault()`,
    `CREATE TRIGGER fuzz_fault_logs BEFORE INSERT OR UPDATE ON ${s}.chrono_forge_execution_logs
       FOR EACH ROW EXECUTE FUNCTION ${s}.fuzz_fault()`,
    `CREATE OR REPLACE FUNCTION ${s}.fuzz_commit_fault() RETURNS trigger LANGUAGE plpgsql AS $f$
     DECLARE f record;
     BEGIN
       IF NEW.state <> 'completed' OR NOT starts_with(NEW.step_name, 'step$') THEN RETURN NULL; END IF;
       SELECT * INTO f FROM ${s}.fuzz_faults WHERE workflow_id = NEW.workflow_id AND kind = 'commit';
       IF FOUND THEN
         IF nextval(f.seq) = f.nth THEN
           RAISE EXCEPTION 'fuzz fault: commit #% on run %', f.nth, NEW.workflow_id USING ERRCODE = '57014';
         END IF;
       END IF;
       RETURN NULL;
     END $f$`,
    `CREATE CONSTRAINT TRIGGER fuzz_fault_commit AFTER INSERT OR UPDATE ON ${s}.chrono_forge_execution_logs
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${s}.fuzz_commit_fault()`,
    `CREATE TRIGGER fuzz_fault_signals BEFORE INSERT OR UPDATE ON ${s}.chrono_forge_signals
       FOR EACH ROW EXECUTE FUNCTION ${s}.fuzz_fault()`,
  ];
}

/** Statements that arm a fault for run `workflowId`. */
export function armFaultSql(
  schema: string,
  workflowId: string,
  kind: SqlFaultKind,
  nth: number,
): string[] {
  const seq = `"${schema}".fuzz_fault_${workflowId}`;
  return [
    `CREATE SEQUENCE ${seq}`,
    `INSERT INTO "${schema}".fuzz_faults (workflow_id, kind, nth, seq)
       VALUES (${Number(workflowId)}, '${kind}', ${nth}, '${seq.replace(/'/g, "''")}')`,
  ];
}

/** Query: the armed faults of the given runs and whether each fired. */
export function firedFaultsSql(schema: string): string {
  return `SELECT f.workflow_id::text AS id, f.kind, f.nth,
      (SELECT COALESCE(max(l.n), 0) FROM (SELECT CASE WHEN s.last_value IS NULL THEN 0 ELSE s.last_value END AS n
         FROM pg_sequences s WHERE s.schemaname = '${schema}' AND s.sequencename = 'fuzz_fault_' || f.workflow_id) l)
        >= f.nth AS fired
    FROM "${schema}".fuzz_faults f WHERE f.workflow_id = ANY($1::bigint[])`;
}

import { describe, expect, it } from 'vitest';
import { RunScope } from '../../lib/run/run-scope.js';
import type { RunRow } from '../../lib/persistence/rows.js';
import { ChronoForgeClock } from '../../lib/util/clock.js';
import { EngineLog, faultsIn } from '../fuzz/engine-log.js';

/** The message the executor logs for a faulted pass of run `id`, from the engine itself. */
function faultMessage(id: string, cause: string): string {
  const run = { id, key: 'k', job_name: 'w', context: {}, max_duration_ms: '1000' } as RunRow;
  const definition = {
    name: 'w',
    target: class {},
    methodName: 'm',
    maxDurationMs: 1000,
    toInput: (input: unknown) => input,
    compensateOn: [],
    onTimeout: 'cancel' as const,
    invoke: async () => null,
  };
  const scope = new RunScope(run, new Map(), definition, 'o', () => false, new ChronoForgeClock());
  return `${scope.markFaulted(new Error(cause)).message}; next pass in 1000 ms`;
}

/**
 * The fuzz suite reads the faulted passes from the engine's log (test/fuzz/engine-log.ts): one it
 * injected, one a busy shared server caused (a refused connection), or one nobody explains (a
 * defect, reported). It parses the engine's own message, so a reworded message fails here.
 */
describe('the fuzz suite’s reading of faulted passes', () => {
  it.each([
    ['fuzz fault: log.insert statement #2 on run 7', 'injected'],
    ['sorry, too many clients already', 'infrastructure'],
    ['too many connections for role "app"', 'infrastructure'],
    ['timeout exceeded when trying to connect', 'infrastructure'],
    ['Connection terminated unexpectedly', 'infrastructure'],
    ['terminating connection due to administrator command', 'infrastructure'],
    ['relation "x" does not exist', 'unexplained'],
    ['syntax error at or near ")"', 'unexplained'],
  ])('should read a fault caused by %j as %s', (cause, kind) => {
    const log = new EngineLog();
    log.warn(faultMessage('42', cause), 'WorkflowExecutor');
    log.warn('Heartbeat failed: Connection terminated unexpectedly', 'WorkerHeartbeat');
    expect(log.faults()).toEqual([{ runId: '42', cause, kind }]);
  });

  it('should read the lines a worker process echoes to stdout', () => {
    const out = `WARN [WorkflowExecutor] ${faultMessage('9', 'sorry, too many clients already')}\nready\n`;
    expect(faultsIn(out)).toEqual([
      { runId: '9', cause: 'sorry, too many clients already', kind: 'infrastructure' },
    ]);
  });
});

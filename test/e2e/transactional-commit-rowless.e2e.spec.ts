import type { PoolClient } from 'pg';
import { describe, expect, it } from 'vitest';
import { ChronoForgeDatabase } from '../../lib/index.js';
import { sqlLiteral } from '../../lib/database/step-transaction.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../../lib/options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../../lib/options/resolve-options.js';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { sql } from '../support/env.js';
import { txCommitSuite } from '../support/tx-commit.js';

/**
 * A transactional step whose log id nobody needs (a plain step's) sends its checkpoint with the
 * `COMMIT` as an INSERT that returns no row, prepared or, behind a transaction pooler, with its
 * values inlined; the pass keeps a stand-in id (see `unreadLogId`). The refusals of this form are
 * in transactional-commit.e2e.spec.ts beside those of the form that returns the log id.
 */
describe('transactional steps: a checkpoint that returns no row (e2e)', () => {
  const t = txCommitSuite('txr');
  const { wf, dataSource, lockedRun, countQueries, begin, insert, commit } = t;
  const { businessRows, stepLogs } = t;

  it('should record a first attempt that needs no log id with a statement that returns no row', async () => {
    const key = 'rowless';
    const runId = await lockedRun(key);
    const tx = await begin();
    try {
      await insert(tx, key);
      const done = await commit(tx, runId, 'step$rowless', { anyId: true });
      expect(done).toEqual({ id: expect.any(String) });
      // A stand-in id, ordered after every stored one (see unreadLogId).
      expect(BigInt((done as { id: string }).id)).toBeGreaterThanOrEqual(2n ** 62n);
      expect(tx.active).toBe(false);
    } finally {
      await tx.release();
    }
    expect(await businessRows(key)).toEqual(['business']);
    expect(await stepLogs(runId)).toEqual([{ step_name: 'step$rowless', state: 'completed' }]);
  });

  it.each([
    ['its log id read back', false],
    ['no row back (a plain step, which needs no log id)', true],
  ])(
    'should inline the values instead of preparing behind a transaction pooler, with %s',
    async (_label, anyId) => {
      const key = `pooler-${anyId}`;
      const runId = await lockedRun(key);
      const options = t.suite.app.get<ResolvedOptions>(CHRONO_FORGE_RESOLVED_OPTIONS);
      const pooled = new WorkflowStore(t.suite.app.get(ChronoForgeDatabase), {
        ...options,
        database: { ...options.database, pooler: 'transaction' },
      });
      const runner = dataSource().createQueryRunner();
      const counted = countQueries((await runner.connect()) as PoolClient);
      try {
        const tx = await begin(runner);
        await insert(tx, key, "it's \\ quoted");
        const done = await commit(tx, runId, 'step$inline', { store: pooled, anyId });
        expect(done).toEqual({ id: expect.any(String) });
        expect(counted.texts.at(-1)).toMatch(
          anyId ? /^\s*INSERT INTO .*\n\s*COMMIT$/s : /^WITH c AS \(.*\n\s*COMMIT$/s,
        );
        const refused = await begin(runner);
        await sql(`UPDATE ${wf} SET locked_by = 'another/1' WHERE id = $1`, [runId]);
        expect(await commit(refused, runId, 'step$inline2', { store: pooled, anyId })).toEqual({
          id: null,
        });
        await refused.rollback();
      } finally {
        counted.stop();
        await runner.release();
      }
      expect(await businessRows(key)).toEqual(["it's \\ quoted"]);
      expect(sqlLiteral("a'b\\c", 'text')).toBe(" E'a''b\\\\c'::text");
      expect(sqlLiteral('nul \u0000', 'text')).toBeUndefined();
    },
  );
});

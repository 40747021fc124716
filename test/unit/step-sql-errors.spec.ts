import { describe, expect, it } from 'vitest';
import { TransactionAbortedError } from '../../lib/index.js';
import { sqlState } from '../../lib/database/transient-error.js';
import { stepStatementFailure } from '../../lib/steps/step-sql-errors.js';

/** A driver error as pg raises it (TypeORM's QueryFailedError copies `code` too). */
const pgError = (code: string | undefined): Error =>
  Object.assign(new Error(`failed with ${code}`), code === undefined ? {} : { code });

describe('which checkpoint/COMMIT failures of a transactional step are the step’s own', () => {
  it('should turn 25P02 on the checkpoint into TransactionAbortedError with the driver error as cause', () => {
    const err = pgError('25P02');
    const failure = stepStatementFailure('step$book', err, 'checkpoint');
    expect(failure).toBeInstanceOf(TransactionAbortedError);
    expect((failure as TransactionAbortedError).cause).toBe(err);
    expect((failure as Error).message).toContain('step$book');
  });

  it.each(['23503', '23505', '23514', '22012', '42501', 'P0001'])(
    'should return a deferred check failing at COMMIT (%s) as is',
    (code) => {
      const err = pgError(code);
      expect(stepStatementFailure('step$book', err, 'commit')).toBe(err);
    },
  );

  it.each([
    ['commit', '40001'],
    ['commit', '40P01'],
    ['commit', '57P01'],
    ['commit', '57014'],
    ['commit', '08006'],
    ['commit', '25P02'],
    ['commit', undefined],
    ['checkpoint', '23505'],
    ['checkpoint', '42501'],
    ['checkpoint', '25006'],
    ['checkpoint', '40001'],
    ['checkpoint', '08006'],
    ['checkpoint', undefined],
  ] as const)('should leave %s failing with %s to the engine (a fault)', (phase, code) => {
    expect(stepStatementFailure('step$book', pgError(code), phase)).toBeUndefined();
  });

  it('should read SQLSTATEs only from a five-character code', () => {
    expect(sqlState(pgError('23505'))).toBe('23505');
    expect(sqlState(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(sqlState(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBeUndefined();
    expect(sqlState(null)).toBeUndefined();
  });
});

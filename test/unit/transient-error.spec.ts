import { describe, expect, it } from 'vitest';
import { isTransientDatabaseError } from '../../lib/database/transient-error.js';

describe('isTransientDatabaseError', () => {
  it.each(['53300', '53200', '57P01', '57P02', '57P03', '08006', '08001', '40001', '40P01'])(
    'should call SQLSTATE %s transient',
    (code) => expect(isTransientDatabaseError({ code, message: 'x' })).toBe(true),
  );

  it.each(['42P01', '23505', '22P02', '57014', '25P02'])(
    'should not call SQLSTATE %s transient',
    (code) => expect(isTransientDatabaseError({ code, message: 'x' })).toBe(false),
  );

  it('should call lost sockets and pg connection messages transient, nothing else', () => {
    expect(
      isTransientDatabaseError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })),
    ).toBe(true);
    expect(isTransientDatabaseError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientDatabaseError(new Error('timeout exceeded when trying to connect'))).toBe(
      true,
    );
    expect(isTransientDatabaseError(new Error('Run 7 no longer exists.'))).toBe(false);
    expect(isTransientDatabaseError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isTransientDatabaseError('53300')).toBe(false);
    expect(isTransientDatabaseError(null)).toBe(false);
  });
});

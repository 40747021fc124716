import { expect } from 'vitest';

/**
 * Checks the ledger rows of a `family.parent` run that rolled back: its later step first, the
 * compensations of kids `kids` next (side by side, each kid last step first), its earlier step last.
 */
export function expectFamilyRollback(rows: string[], kids: number[]): void {
  const done = rows.indexOf('after');
  expect(done).toBeGreaterThan(0);
  const rollback = rows.slice(done + 1);
  // The parent's later step first, its children next (side by side), its earlier step last.
  expect(rollback[0]).toBe('unafter');
  expect(rollback[rollback.length - 1]).toBe('unreserve');
  const middle = rollback.slice(1, -1);
  const expected = kids.flatMap((i) => [`kid${i}:undo2`, `kid${i}:undo1`]);
  expect([...middle].sort()).toEqual([...expected].sort());
  for (const i of kids)
    expect(middle.indexOf(`kid${i}:undo2`)).toBeLessThan(middle.indexOf(`kid${i}:undo1`));
}

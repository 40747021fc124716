import { describe, expect, it } from 'vitest';
import {
  keyset,
  type ListOrder,
  type PageRequest,
  toPage,
} from '../../lib/inspection/keyset-page.js';

/** Ids 1..20 as the database would return them for a keyset statement, then paged. */
function pageOf(order: ListOrder, req: PageRequest) {
  const ids = Array.from({ length: 20 }, (_, i) => i + 1);
  const k = keyset('id', order, req, 1);
  const cursor = Number(k.values[0]);
  const scanAsc = /ASC/.test(k.orderLimit);
  const matching = ids.filter((id) =>
    req.after !== undefined ? id > cursor : req.before !== undefined ? id < cursor : true,
  );
  const fetched = (scanAsc ? matching : matching.reverse()).slice(0, req.size + 1).map(String);
  return toPage(fetched, order, req, (id) => id);
}

describe('keyset pages', () => {
  it('should page an oldest-first list forward and back', () => {
    const first = pageOf('asc', { size: 5 });
    expect(first).toEqual({ rows: ['1', '2', '3', '4', '5'], next: { after: '5' } });
    const second = pageOf('asc', { after: '5', size: 5 });
    expect(second).toEqual({
      rows: ['6', '7', '8', '9', '10'],
      prev: { before: '6' },
      next: { after: '10' },
    });
    expect(pageOf('asc', { before: '6', size: 5 }).rows).toEqual(first.rows);
    expect(pageOf('asc', { before: '6', size: 5 }).prev).toBeUndefined();
    expect(pageOf('asc', { after: '15', size: 5 }).next).toBeUndefined();
  });

  it('should page a newest-first list forward and back', () => {
    const first = pageOf('desc', { size: 8 });
    expect(first.rows).toEqual(['20', '19', '18', '17', '16', '15', '14', '13']);
    expect(first.next).toEqual({ before: '13' });
    expect(first.prev).toBeUndefined();
    const last = pageOf('desc', { before: '5', size: 8 });
    expect(last).toEqual({ rows: ['4', '3', '2', '1'], prev: { after: '4' } });
    const back = pageOf('desc', { after: '12', size: 8 });
    expect(back.rows).toEqual(first.rows);
    expect(back.prev).toBeUndefined();
    expect(back.next).toEqual({ before: '13' });
  });

  it('should give an empty page no links', () => {
    expect(pageOf('asc', { after: '20', size: 5 })).toEqual({ rows: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { nodeOf, pathOf } from '../../lib/dashboard/data/workflow-graphs.js';
import {
  bucketLabel,
  bucketWidth,
  chartTable,
  lineChart,
} from '../../lib/dashboard/views/chart.view.js';
import { analyticsRange } from '../../lib/inspection/analytics.store.js';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';

describe('definition graph path', () => {
  it('should name each durable call by kind and fold occurrences, ticks and internal logs', () => {
    expect(nodeOf('step$reserve#2')).toEqual({ kind: 'step', name: 'reserve' });
    expect(nodeOf('wait_until$ready')).toEqual({ kind: 'waitUntil', name: 'ready' });
    expect(nodeOf('durably_repeat$remind$3')).toEqual({ kind: 'repeat', name: 'remind' });
    expect(nodeOf('$compensate$step$charge')).toBeNull();
    expect(nodeOf('nodelimiter')).toBeNull();
    const path = pathOf([
      { step_name: 'step$item', state: 'completed' },
      { step_name: 'step$item#2', state: 'completed' },
      { step_name: 'step$item#3', state: 'failed' },
      { step_name: '$workflow_retry$1', state: 'completed' },
      { step_name: 'signal$approved', state: 'pending' },
      { step_name: 'step$item#4', state: 'completed' },
    ]);
    expect(path).toEqual([
      { kind: 'step', name: 'item', count: 3, state: 'failed' },
      { kind: 'signal', name: 'approved', count: 1, state: 'pending' },
      { kind: 'step', name: 'item', count: 1, state: 'completed' },
    ]);
  });
});

describe('analytics chart', () => {
  const chart = {
    id: 'c1',
    title: 'Runs of <script>x</script>',
    since: new Date('2026-12-04T10:00:00Z'),
    bucketMs: 300_000,
    series: [
      { name: 'started', color: '#000', values: [1, 0, 4] },
      { name: 'failed', color: '#f00', values: [0, 2, 0] },
    ],
  };

  it('should render an accessible SVG with escaped text and one point per bucket', () => {
    const svg = lineChart(chart).value;
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-labelledby="c1-title c1-desc"');
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('Runs of &lt;script&gt;x&lt;/script&gt;');
    expect(svg).toContain('per 5-minute bucket from 12-04 10:00 UTC: 5 started, 2 failed.');
    expect(svg.match(/<circle/g)).toHaveLength(6);
    expect(svg).toContain('<title>failed 12-04 10:05: 2</title>');
  });

  it('should put the same numbers in a table with totals', () => {
    const table = chartTable(chart).value;
    expect(table.match(/<th scope="col">10:0[05]<\/th>/g)).toHaveLength(2);
    expect(table).toMatch(/<tr data-series="started">[\s\S]*<td><b>5<\/b><\/td>/);
  });

  it('should label buckets and validate the range', () => {
    expect(bucketLabel(new Date('2026-12-04T18:05:00Z'), 300_000)).toBe('18:05');
    expect(bucketLabel(new Date('2026-12-04T18:00:00Z'), 21_600_000)).toBe('12-04 18:00');
    expect(bucketWidth(3_600_000)).toBe('1-hour');
    expect(analyticsRange(undefined)).toBe('24h');
    expect(analyticsRange('7d')).toBe('7d');
    expect(() => analyticsRange('constructor')).toThrow(InvalidOptionsError);
  });
});

import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/index.js';
import type { ChronoForgeDashboardOptions } from '../../lib/index.js';
import { resolveDashboardOptions } from '../../lib/dashboard/options/resolve-dashboard-options.js';

describe('dashboard options', () => {
  it('should share one random CSRF secret between the dashboards of a process that set none', () => {
    const a = resolveDashboardOptions({ path: '/a' });
    const b = resolveDashboardOptions({ path: '/b' });
    expect(a.csrfSecret.length).toBe(32);
    expect(a.csrfSecret.equals(b.csrfSecret)).toBe(true);
    const own = resolveDashboardOptions({ csrfSecret: 's'.repeat(16) });
    expect(own.csrfSecret.toString()).toBe('s'.repeat(16));
  });

  it('should keep csrfSubject callable with the options as this', () => {
    const options = {
      prefix: 'user:',
      csrfSubject(this: { prefix: string }, req: { headers: Record<string, unknown> }) {
        return `${this.prefix}${String(req.headers['x-user'])}`;
      },
    };
    const resolved = resolveDashboardOptions(options as ChronoForgeDashboardOptions);
    expect(resolved.csrfSubject?.({ headers: { 'x-user': 'ada' } })).toBe('user:ada');
  });

  it.each<[string, unknown]>([
    ['csrfSubject is not a function', { csrfSubject: 'req.user.id' }],
    ['csrfSecret is short', { csrfSecret: 'short' }],
    ['pageSize is above 500', { pageSize: 501 }],
  ])('should refuse options where %s', (_, options) => {
    expect(() => resolveDashboardOptions(options as ChronoForgeDashboardOptions)).toThrow(
      InvalidOptionsError,
    );
  });
});

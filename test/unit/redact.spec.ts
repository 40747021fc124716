import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../lib/util/redact.util.js';

describe('redactUrl', () => {
  it.each([
    ['postgres://app:s3cret@db:5432/app', 'postgres://***@db:5432/app'],
    ['redis://:s3cret@cache:6379/0', 'redis://***@cache:6379/0'],
    ['rediss://user:pa/ss@cache:6380', 'rediss://***@cache:6380'],
    ['postgresql://app:p@ss@db/app', 'postgresql://***@db/app'],
    [
      'connect ECONNREFUSED postgres://a:b@h:1 (retrying)',
      'connect ECONNREFUSED postgres://***@h:1 (retrying)',
    ],
    [
      'postgres://db/app?user=app&password=s3cret&ssl=true',
      'postgres://db/app?user=app&password=***&ssl=true',
    ],
    ['host=db user=app password=s3cret dbname=app', 'host=db user=app password=*** dbname=app'],
    ['Server=db;Pwd=s3cret;', 'Server=db;Pwd=***;'],
  ])('should redact %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
    expect(redactUrl(input)).not.toContain('s3cret');
  });

  it('should leave text without credentials as it is', () => {
    for (const text of ['redis://127.0.0.1:6379', 'no url here', 'postgres://db/app?ssl=true'])
      expect(redactUrl(text)).toBe(text);
  });
});

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
    // Issue 26: a password holding spaces was printed in clear (the pattern stopped at whitespace).
    ['postgres://postgres:Pg s3cret42@127.0.0.1:5432/test', 'postgres://***@127.0.0.1:5432/test'],
    ['redis://default:Rd s3c ret42@127.0.0.1:6379', 'redis://***@127.0.0.1:6379'],
    [
      'Redis at redis://default:Rd s3c ret42@h:6379 did not answer; postgres://u:s3cret x@db/app',
      'Redis at redis://***@h:6379 did not answer; postgres://***@db/app',
    ],
    ["host=db password='Pg s3cret42' user=app", 'host=db password=*** user=app'],
    [
      'postgres://a:s3cret#?/x@h/db\nnext line user@example.com',
      'postgres://***@h/db\nnext line user@example.com',
    ],
  ])('should redact %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
    expect(redactUrl(input)).not.toContain('s3cret');
  });

  it('should leave text without credentials as it is', () => {
    for (const text of [
      'redis://127.0.0.1:6379',
      'no url here',
      'postgres://db/app?ssl=true',
      'redis://127.0.0.1:6379 failed\nmail ops@example.com',
    ])
      expect(redactUrl(text)).toBe(text);
  });
});

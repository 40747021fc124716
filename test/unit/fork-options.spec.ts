import { describe, expect, it } from 'vitest';
import { IsInt } from 'class-validator';
import { checkForkArguments, checkForkInput } from '../../lib/client/fork-options.js';
import { InputValidationError } from '../../lib/errors/input-validation.error.js';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import { SerializationError } from '../../lib/errors/serialization.error.js';

class Count {
  @IsInt() n!: number;
}

describe('checkForkArguments()', () => {
  it('should return the fields of valid options, each read once', () => {
    let reads = 0;
    const options = {
      get fromStep() {
        reads++;
        return 's3';
      },
      newKey: 'again',
    };
    expect(checkForkArguments('k', options)).toEqual({
      fromStep: 's3',
      newKey: 'again',
      input: undefined,
    });
    expect(reads).toBe(1);
  });

  it.each([
    ['a missing key', '', { fromStep: 's' }, /run key must be a non-empty string/],
    ['a non-string key', 42, { fromStep: 's' }, /run key must be a non-empty string/],
    ['no options', 'k', undefined, /fork\(\) needs options/],
    ['array options', 'k', [], /fork\(\) needs options/],
    ['an unknown option', 'k', { fromStep: 's', newkey: 'x' }, /unknown: "newkey"/],
    ['no fromStep', 'k', { newKey: 'x' }, /fork needs `fromStep`.*got undefined/],
    ['an empty fromStep', 'k', { fromStep: '' }, /fork needs `fromStep`/],
    ['a numeric fromStep', 'k', { fromStep: 3 }, /fork needs `fromStep`.*got 3/],
    ['a fromStep with NUL', 'k', { fromStep: 'a\u0000b' }, /fromStep .*NUL/],
    ['a too long fromStep', 'k', { fromStep: 'x'.repeat(513) }, /fromStep is longer than 512/],
    ['an empty newKey', 'k', { fromStep: 's', newKey: '' }, /run key must be/],
    ['a too long newKey', 'k', { fromStep: 's', newKey: 'x'.repeat(513) }, /run key must be/],
    ['a newKey with a control char', 'k', { fromStep: 's', newKey: 'a\nb' }, /control or bidi/],
  ])('should refuse %s with InvalidOptionsError', (_, key, options, message) => {
    expect(() => checkForkArguments(key, options)).toThrow(InvalidOptionsError);
    expect(() => checkForkArguments(key, options)).toThrow(message);
  });
});

describe('checkForkInput()', () => {
  const def = { name: 'w.count', inputType: Count };

  it('should accept no input (the source run keeps its own) and a valid one', async () => {
    await expect(checkForkInput('w.count', def, 'k2', undefined)).resolves.toBeUndefined();
    await expect(checkForkInput('w.count', def, 'k2', { n: 2 })).resolves.toBeUndefined();
  });

  it('should refuse an input the DTO, the size limit or storage refuses', async () => {
    await expect(checkForkInput('w.count', def, 'k2', { n: 'two' })).rejects.toThrow(
      InputValidationError,
    );
    const big = { blob: 'x'.repeat(1024 * 1024) };
    await expect(checkForkInput('w.count', undefined, 'k2', big)).rejects.toThrow(
      /^Input of "w.count" is \d+ bytes; the limit is 1048576\.$/,
    );
    await expect(checkForkInput('w.count', undefined, 'k2', { a: 1n })).rejects.toThrow(
      SerializationError,
    );
  });
});

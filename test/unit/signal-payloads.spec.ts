import { IsString } from 'class-validator';
import { describe, expect, it } from 'vitest';
import {
  checkSignalPayload,
  toSignalPayload,
  toSignalPayloadTypes,
} from '../../lib/definitions/signal-payloads.js';
import { InputValidationError, InvalidOptionsError } from '../../lib/index.js';

class NoteDto {
  @IsString()
  text!: string;
}

describe('signal payload DTOs (@Workflow({ signals }))', () => {
  it('should refuse a signals option that is not an object of DTO classes', () => {
    expect(() => toSignalPayloadTypes([NoteDto], 'A#run')).toThrow(InvalidOptionsError);
    expect(() => toSignalPayloadTypes({ note: 'NoteDto' }, 'A#run')).toThrow(
      /signals\.note of A#run must be a DTO class/,
    );
    expect(() => toSignalPayloadTypes({ bad$name: NoteDto }, 'A#run')).toThrow();
    expect(toSignalPayloadTypes(undefined, 'A#run')).toBeUndefined();
  });

  it('should keep a signal named like an Object.prototype member as an ordinary entry', async () => {
    const types = toSignalPayloadTypes({ note: NoteDto }, 'A#run');
    const def = { name: 'a', signalTypes: types };
    await expect(checkSignalPayload(def, 'constructor', 42)).resolves.toBeUndefined();
    expect(toSignalPayload(def, 'toString', { text: 1 })).toEqual({ text: 1 });
  });

  it('should validate a declared signal and leave undeclared ones alone', async () => {
    const def = { name: 'notes', signalTypes: toSignalPayloadTypes({ note: NoteDto }, 'A#run') };
    await expect(checkSignalPayload(def, 'note', { text: 'hi' })).resolves.toBeUndefined();
    await expect(checkSignalPayload(def, 'note', { text: 3 })).rejects.toBeInstanceOf(
      InputValidationError,
    );
    await expect(checkSignalPayload(def, 'other', { text: 3 })).resolves.toBeUndefined();
    await expect(checkSignalPayload(undefined, 'note', 'x')).resolves.toBeUndefined();
    expect(toSignalPayload(def, 'note', { text: 'hi' })).toBeInstanceOf(NoteDto);
  });
});

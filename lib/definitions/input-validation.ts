import type { Type } from '@nestjs/common';
import type { WorkflowDefinition } from './workflow.registry.js';
import { InputValidationError } from '../errors/input-validation.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { jsonByteSize } from '../util/serialization.util.js';
import { assertNewRunKey } from './client-arguments.js';
import { dtoErrors } from './dto-validation.js';

/** Largest accepted encoded input. */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** Validates a workflow input against its DTO with class-validator; throws `InputValidationError`. */
export async function validateInput(
  workflow: string,
  dto: Type<object>,
  input: unknown,
): Promise<void> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InputValidationError(workflow, [`input must be an object matching ${dto.name}`]);
  }
  const messages = await dtoErrors(dto, input);
  if (messages.length > 0) throw new InputValidationError(workflow, messages);
}

/**
 * The checks every new run passes before it is inserted, whether `client.start` or a branch's
 * `spawn`/`spawnEach` creates it: the key (length, storable printable text), the input (storable, at most
 * {@link MAX_INPUT_BYTES} encoded) and the workflow's input DTO.
 */
export async function checkNewRun(
  def: Pick<WorkflowDefinition, 'name' | 'inputType'>,
  key: unknown,
  input: unknown,
): Promise<void> {
  assertNewRunKey(key);
  const size = jsonByteSize(input, 'input');
  if (size > MAX_INPUT_BYTES) {
    throw new InvalidOptionsError(
      `Input of "${def.name}" is ${size} bytes; the limit is ${MAX_INPUT_BYTES}.`,
    );
  }
  if (def.inputType) await validateInput(def.name, def.inputType, input);
}

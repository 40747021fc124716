import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { InputValidationError } from '../errors/input-validation.error.js';

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => (prefix ? `${path}: ${m}` : m));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/** Validates a workflow input against its DTO with class-validator; throws `InputValidationError`. */
export async function validateInput(
  workflow: string,
  dto: Type<object>,
  input: unknown,
): Promise<void> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InputValidationError(workflow, [`input must be an object matching ${dto.name}`]);
  }
  const instance = plainToInstance(dto, input);
  const errors = await validate(instance, { forbidUnknownValues: true });
  if (errors.length > 0) throw new InputValidationError(workflow, flatten(errors));
}

import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => (prefix ? `${path}: ${m}` : m));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/** class-validator's messages for `value` as an instance of `dto` (none: it is valid). */
export async function dtoErrors(dto: Type<object>, value: object): Promise<string[]> {
  const instance = plainToInstance(dto, value);
  return flatten(await validate(instance, { forbidUnknownValues: true }));
}

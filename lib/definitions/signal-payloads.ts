import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { InputValidationError } from '../errors/input-validation.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { assertUserName } from '../util/names.util.js';
import { describeValue } from '../util/describe.util.js';
import { dtoErrors } from './dto-validation.js';

/** The payload DTO of each declared signal (`@Workflow({ signals })`), by signal name. */
export type SignalPayloadTypes = Readonly<Record<string, Type<object>>>;

/**
 * Checks `@Workflow({ signals })` of `where` at discovery: each name a valid signal name, each
 * value a class. Returns them in a prototype-free map (a signal named `constructor` is only that).
 */
export function toSignalPayloadTypes(
  signals: unknown,
  where: string,
): SignalPayloadTypes | undefined {
  if (signals === undefined) return undefined;
  if (typeof signals !== 'object' || signals === null || Array.isArray(signals)) {
    throw new InvalidOptionsError(
      `@Workflow signals of ${where} must be an object such as { delivered: DeliveredDto }, got ${describeValue(signals)}.`,
    );
  }
  const types = Object.create(null) as Record<string, Type<object>>;
  for (const [name, dto] of Object.entries(signals)) {
    assertUserName(name, `Signal (${where})`);
    if (typeof dto !== 'function')
      throw new InvalidOptionsError(`@Workflow signals.${name} of ${where} must be a DTO class.`);
    types[name] = dto as Type<object>;
  }
  return Object.freeze(types);
}

/**
 * Validates `payload` of signal `signal` against the DTO `@Workflow({ signals })` declares for it
 * (none declared: any payload). Throws `InputValidationError` with class-validator's messages.
 */
export async function checkSignalPayload(
  def: { name: string; signalTypes?: SignalPayloadTypes } | undefined,
  signal: string,
  payload: unknown,
): Promise<void> {
  const dto = def?.signalTypes?.[signal];
  if (!def || !dto) return;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InputValidationError(
      def.name,
      [`payload must be an object matching ${dto.name}`],
      signal,
    );
  }
  const messages = await dtoErrors(dto, payload);
  if (messages.length > 0) throw new InputValidationError(def.name, messages, signal);
}

/**
 * Checks `waitForSignal(signal, { payload: expected })` against the workflow's declaration: the DTO
 * must be the one `@Workflow({ signals })` declares for `signal`, so `client.signal` (which only
 * knows the declaration) validates it before storing.
 */
export function assertSignalPayloadType(
  def: { name: string; signalTypes?: SignalPayloadTypes },
  signal: string,
  expected: unknown,
): void {
  const dto = def.signalTypes?.[signal];
  if (expected === undefined || expected === dto) return;
  const shown = typeof expected === 'function' && expected.name ? expected.name : 'PayloadDto';
  throw new InvalidOptionsError(
    `waitForSignal("${signal}", { payload: ${shown} }) of workflow "${def.name}" needs the DTO declared on the workflow, so that client.signal validates payloads before storing them: @Workflow({ signals: { ${signal}: ${shown} } })` +
      (dto ? ` (it declares ${dto.name}).` : '.'),
  );
}

/**
 * The payload of signal `signal` as workflow code receives it: an instance of the DTO
 * `@Workflow({ signals })` declares for it (when the payload is an object), else as sent.
 */
export function toSignalPayload(
  def: { signalTypes?: SignalPayloadTypes },
  signal: string,
  payload: unknown,
): unknown {
  const dto = def.signalTypes?.[signal];
  return dto && payload !== null && typeof payload === 'object' && !Array.isArray(payload)
    ? plainToInstance(dto, payload)
    : payload;
}

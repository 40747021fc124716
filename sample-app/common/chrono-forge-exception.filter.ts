import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  ChronoForgeError,
  InputValidationError,
  InvalidOptionsError,
  InvalidTransitionError,
  SerializationError,
  WorkflowNotFoundError,
} from '@chronoforge/nestjs';

/**
 * HTTP status of a ChronoForge error: the ones callers can cause map to 4xx, the rest to 500. A
 * `SerializationError` here comes from a client call with the request's data (an input or signal
 * payload holding a NUL or nested deeper than 1000 levels): the caller's fault, so 400.
 */
function statusOf(error: ChronoForgeError): HttpStatus {
  if (
    error instanceof InputValidationError ||
    error instanceof InvalidOptionsError ||
    error instanceof SerializationError
  ) {
    return HttpStatus.BAD_REQUEST;
  }
  if (error instanceof WorkflowNotFoundError) return HttpStatus.NOT_FOUND;
  if (error instanceof InvalidTransitionError) return HttpStatus.CONFLICT;
  return HttpStatus.INTERNAL_SERVER_ERROR;
}

/** Reason phrases of the statuses above. */
const REASON: Partial<Record<HttpStatus, string>> = {
  [HttpStatus.BAD_REQUEST]: 'Bad Request',
  [HttpStatus.NOT_FOUND]: 'Not Found',
  [HttpStatus.CONFLICT]: 'Conflict',
  [HttpStatus.INTERNAL_SERVER_ERROR]: 'Internal Server Error',
};

/**
 * Maps ChronoForge errors to HTTP responses in Nest's usual error shape:
 * `InputValidationError`, `InvalidOptionsError` and `SerializationError` → 400 (with class-validator's messages),
 * `WorkflowNotFoundError` → 404, `InvalidTransitionError` → 409, anything else → 500.
 * The stable `code` of the error is included so clients can branch on it.
 */
@Catch(ChronoForgeError)
export class ChronoForgeExceptionFilter implements ExceptionFilter<ChronoForgeError> {
  private readonly logger = new Logger(ChronoForgeExceptionFilter.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: ChronoForgeError, host: ArgumentsHost): void {
    const status = statusOf(error);
    if (status === HttpStatus.INTERNAL_SERVER_ERROR) {
      this.logger.error(error.stack ?? error.message);
    }
    const body = {
      statusCode: status,
      error: REASON[status],
      code: error.code,
      message:
        error instanceof InputValidationError
          ? error.messages
          : status === HttpStatus.INTERNAL_SERVER_ERROR
            ? 'Internal server error'
            : error.message,
    };
    const { httpAdapter } = this.adapterHost;
    httpAdapter.reply(host.switchToHttp().getResponse(), body, status);
  }
}

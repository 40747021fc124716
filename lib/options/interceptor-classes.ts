import { InvalidInterceptorError } from '../errors/invalid-interceptor.error.js';
import { describeValue } from '../util/describe.util.js';
import type {
  WorkflowInterceptor,
  WorkflowInterceptorClass,
} from './workflow-interceptor.interface.js';

/** Whether `target` (an instance or a class's prototype) has an interceptor method. */
export function hasInterceptorMethod(target: unknown): boolean {
  const t = target as WorkflowInterceptor | null | undefined;
  return typeof t?.interceptPass === 'function' || typeof t?.interceptStep === 'function';
}

/**
 * Checks a list of workflow interceptor classes given at `where` (e.g. `forRoot({ interceptors })`):
 * an array of classes, each with `interceptPass()` or `interceptStep()` on its prototype.
 * Throws `InvalidInterceptorError` saying how to fix it.
 */
export function toInterceptorClasses(value: unknown, where: string): WorkflowInterceptorClass[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw new InvalidInterceptorError(
      `${where} must be an array of interceptor classes, got ${describeValue(value)}.`,
    );
  return value.map((type: unknown, i) => {
    const prototype: unknown = typeof type === 'function' ? type.prototype : undefined;
    if (typeof prototype !== 'object' || prototype === null)
      throw new InvalidInterceptorError(
        `${where}[${i}] is not a class (got ${describeValue(type)}): pass the class itself, ` +
          'e.g. [AuditInterceptor]; ChronoForge resolves it through dependency injection.',
      );
    if (!hasInterceptorMethod(prototype))
      throw new InvalidInterceptorError(
        `${where}[${i}] (${(type as WorkflowInterceptorClass).name}) has neither interceptPass() ` +
          'nor interceptStep(): implement WorkflowInterceptor.',
      );
    return type as WorkflowInterceptorClass;
  });
}

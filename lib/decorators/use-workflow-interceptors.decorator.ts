import { INTERCEPTORS_METADATA } from '../options/chrono-forge.constants.js';
import { toInterceptorClasses } from '../options/interceptor-classes.js';
import type { WorkflowInterceptorClass } from '../options/workflow-interceptor.interface.js';

/**
 * Wraps the passes and step attempts of a workflow (on a `@Workflow()` method) or of every
 * workflow of a provider (on its class) with `interceptors`, like Nest's `@UseInterceptors()`
 * does for routes. Order, outermost first: `forRoot({ interceptors })`, then the class's, then
 * the method's, each in array order (stacked decorators add up, the upper one outermost); a class
 * listed twice runs once, at its first place. The classes are checked here and resolved through
 * dependency injection at bootstrap (`InvalidInterceptorError`, also on a method without
 * `@Workflow()` or a class without one).
 *
 * @example
 * ```ts
 * @UseWorkflowInterceptors(TenantInterceptor)
 * @Injectable()
 * export class OrderService {
 *   @UseWorkflowInterceptors(AuditInterceptor)
 *   @Workflow('orders.fulfil')
 *   async fulfil(input: FulfilOrderInput) { … }
 * }
 * ```
 * @publicApi
 */
export function UseWorkflowInterceptors(
  ...interceptors: WorkflowInterceptorClass[]
): ClassDecorator & MethodDecorator {
  const types = toInterceptorClasses(interceptors, '@UseWorkflowInterceptors()');
  // NOTE: stacked decorators (or one inside applyDecorators) add up, the upper one outermost;
  // own metadata only, so a subclass's list does not absorb its parent's.
  const decorator = (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const on: object = descriptor ? (descriptor.value as object) : target;
    const below = (Reflect.getOwnMetadata(INTERCEPTORS_METADATA, on) ??
      []) as WorkflowInterceptorClass[];
    Reflect.defineMetadata(INTERCEPTORS_METADATA, [...types, ...below], on);
  };
  return decorator as ClassDecorator & MethodDecorator;
}

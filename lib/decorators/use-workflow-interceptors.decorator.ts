import { SetMetadata } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '../options/chrono-forge.constants.js';
import { toInterceptorClasses } from '../options/interceptor-classes.js';
import type { WorkflowInterceptorClass } from '../options/workflow-interceptor.interface.js';

/**
 * Wraps the passes and step attempts of a workflow (on a `@Workflow()` method) or of every
 * workflow of a provider (on its class) with `interceptors`, like Nest's `@UseInterceptors()`
 * does for routes. Order, outermost first: `forRoot({ interceptors })`, then the class's, then
 * the method's, each in array order; a class listed twice runs once, at its first place. The
 * classes are checked here and resolved through dependency injection at bootstrap
 * (`InvalidInterceptorError`, also on a method without `@Workflow()` or a class without one).
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
  return SetMetadata(
    INTERCEPTORS_METADATA,
    toInterceptorClasses(interceptors, '@UseWorkflowInterceptors()'),
  );
}

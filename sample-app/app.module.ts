import {
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  Injectable,
  Module,
} from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ChronoForgeDashboardModule, ChronoForgeModule } from '@chronoforge/nestjs';
import type { SampleAppOptions } from './app.config.js';
import { JsonDepthPipe } from './common/json-depth.pipe.js';
import { ChronoForgeExceptionFilter } from './common/chrono-forge-exception.filter.js';
import { MetricsController } from './common/metrics.controller.js';
import { LandingController } from './landing/landing.controller.js';
import { OrdersModule } from './orders/orders.module.js';

/**
 * Access to the ChronoForge dashboard (`/chronoforge`): everyone when `CHRONOFORGE_DASHBOARD=open`
 * (local demos only), otherwise requests whose `x-dashboard-token` header equals
 * `CHRONOFORGE_DASHBOARD_TOKEN`. With neither variable set, the dashboard answers 403.
 */
@Injectable()
export class DashboardAccessGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (process.env.CHRONOFORGE_DASHBOARD === 'open') return true;
    const expected = Buffer.from(process.env.CHRONOFORGE_DASHBOARD_TOKEN ?? '');
    const headers = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, unknown> }>().headers;
    const given = Buffer.from(String(headers['x-dashboard-token'] ?? ''));
    return (
      expected.length > 0 && given.length === expected.length && timingSafeEqual(given, expected)
    );
  }
}

/**
 * Root module of the sample application: ChronoForge (PostgreSQL, with the queue in Redis or
 * PostgreSQL, and an hourly scheduled cleanup), the order domain, the dashboard at `/chronoforge`,
 * Prometheus metrics at `/metrics` and the filter that turns ChronoForge errors into HTTP responses.
 *
 * @example
 * ```ts
 * const app = await NestFactory.create(
 *   AppModule.register({
 *     databaseUrl,
 *     redisUrl,
 *     schema: 'shop',
 *     queueName: 'shop',
 *     orders: { coolOff: '30m', deliveryWindow: '14d' },
 *   }),
 * );
 * ```
 */
@Module({})
export class AppModule {
  /** The application wired to the given database, Redis, schema, queue and order timings. */
  static register(options: SampleAppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ChronoForgeModule.forRoot({
          database:
            options.databaseUrl === 'embedded'
              ? { embedded: true, schema: options.schema }
              : { url: options.databaseUrl, schema: options.schema },
          queue:
            options.queue === 'postgres'
              ? { postgres: true }
              : { redis: { url: options.redisUrl } },
          queueName: options.queueName,
          // Worker processes delete runs finished more than 90 days ago, once an hour.
          cleanup: { every: '1h', olderThan: '90d' },
        }),
        OrdersModule.register(options.orders),
        ChronoForgeDashboardModule.forRoot({ guard: DashboardAccessGuard }),
      ],
      controllers: [LandingController, MetricsController],
      providers: [
        { provide: APP_FILTER, useClass: ChronoForgeExceptionFilter },
        // Global pipes run before a route's own ValidationPipe.
        { provide: APP_PIPE, useClass: JsonDepthPipe },
      ],
    };
  }
}

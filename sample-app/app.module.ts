import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ChronoForgeModule } from '../lib/index.js';
import type { SampleAppOptions } from './app.config.js';
import { ChronoForgeExceptionFilter } from './common/chrono-forge-exception.filter.js';
import { OrdersModule } from './orders/orders.module.js';

/**
 * Root module of the sample application: ChronoForge (PostgreSQL, with the queue in Redis or
 * PostgreSQL), the order domain and the filter that turns ChronoForge errors into HTTP responses.
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
          database: { url: options.databaseUrl, schema: options.schema },
          queue:
            options.queue === 'postgres'
              ? { postgres: true }
              : { redis: { url: options.redisUrl } },
          queueName: options.queueName,
        }),
        OrdersModule.register(options.orders),
      ],
      providers: [{ provide: APP_FILTER, useClass: ChronoForgeExceptionFilter }],
    };
  }
}

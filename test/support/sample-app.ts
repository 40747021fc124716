import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { OrderTimings } from '../../sample-app/orders/order-timings.config.js';
import { AppModule } from '../../sample-app/app.module.js';
import { DATABASE_URL, QUEUE_BACKEND, REDIS_URL } from './env.js';

/**
 * Boots the sample app on the suite's schema and queue (queue backend from CF_QUEUE) on a free
 * port; returns the app and its `http://127.0.0.1:<port>` origin.
 */
export async function startSampleApp(o: {
  schema: string;
  queueName: string;
  orders?: Partial<OrderTimings>;
}): Promise<{ app: INestApplication; origin: string }> {
  const root = AppModule.register({
    databaseUrl: DATABASE_URL,
    redisUrl: REDIS_URL,
    queue: QUEUE_BACKEND,
    ...o,
  });
  const app = await NestFactory.create(root, { logger: ['error', 'warn'], abortOnError: false });
  await app.listen(0);
  return { app, origin: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { resolveServices, sampleAppOptionsFromEnv } from './app.config.js';
import { AppModule } from './app.module.js';
import { redactUrl } from '@chronoforge/nestjs';
import { tryItHints } from './landing/try-it.js';

/** Starts the sample HTTP application; see `sampleAppOptionsFromEnv` for the environment. */
async function bootstrap(): Promise<void> {
  const { port, ...options } = await resolveServices(sampleAppOptionsFromEnv());
  const app = await NestFactory.create(AppModule.register(options));
  app.enableShutdownHooks();
  await app.listen(port);
  const address = app.getHttpServer().address() as AddressInfo | null;
  Logger.log(
    `ChronoForge sample app listening on http://localhost:${address?.port ?? port} ` +
      `(database: ${options.databaseUrl === 'embedded' ? 'embedded PostgreSQL in .chronoforge/pgdata' : redactUrl(options.databaseUrl)}, ` +
      `queue "${options.queueName}" on ${options.queue === 'postgres' ? 'PostgreSQL' : `Redis ${redactUrl(options.redisUrl)}`}, ` +
      `schema "${options.schema}")`,
    'Bootstrap',
  );
  Logger.log(tryItHints(`http://localhost:${address?.port ?? port}`), 'Bootstrap');
}

bootstrap().catch((err: unknown) => {
  Logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err), 'Bootstrap');
  process.exit(1);
});

import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { sampleAppOptionsFromEnv } from './app.config.js';
import { AppModule } from './app.module.js';

/** Starts the sample HTTP application; see `sampleAppOptionsFromEnv` for the environment. */
async function bootstrap(): Promise<void> {
  const { port, ...options } = sampleAppOptionsFromEnv();
  const app = await NestFactory.create(AppModule.register(options));
  app.enableShutdownHooks();
  await app.listen(port);
  const address = app.getHttpServer().address() as AddressInfo | null;
  Logger.log(
    `ChronoForge sample app listening on http://localhost:${address?.port ?? port} ` +
      `(schema "${options.schema}", queue "${options.queueName}")`,
    'Bootstrap',
  );
}

bootstrap().catch((err: unknown) => {
  Logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err), 'Bootstrap');
  process.exit(1);
});

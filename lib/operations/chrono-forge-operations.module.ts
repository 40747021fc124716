import { Module } from '@nestjs/common';
import { Cleanup } from './cleanup.js';

/**
 * Operator services on top of `ChronoForgeModule` (which must be imported, globally, once):
 * currently {@link Cleanup}. Import it where you schedule maintenance.
 *
 * @example
 * ```ts
 * @Module({ imports: [ChronoForgeModule.forRoot(options), ChronoForgeOperationsModule] })
 * class AppModule {}
 * // later: await app.get(Cleanup).run({ olderThan: '90d' });
 * ```
 * @publicApi
 */
@Module({ providers: [Cleanup], exports: [Cleanup] })
export class ChronoForgeOperationsModule {}

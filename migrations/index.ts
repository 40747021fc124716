import { InitChronoForge1763900000000 } from './1763900000000-init-chrono-forge.js';

export { InitChronoForge1763900000000 };

/**
 * ChronoForge's TypeORM migrations, in order. Add them to your own DataSource's `migrations` when
 * you run migrations with the TypeORM CLI instead of `migrationsRun`.
 *
 * @publicApi
 */
export const chronoForgeMigrations = [InitChronoForge1763900000000];

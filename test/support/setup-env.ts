import { inject } from 'vitest';

// Runs in each test worker before the test file: hands the global setup's findings to
// test/support/env.ts and, through process.env, to child worker processes.
process.env.DATABASE_URL = inject('cfDatabaseUrl');
process.env.CF_REDIS_AVAILABLE = inject('cfRedisAvailable') ? '1' : '0';

import { Redis } from 'ioredis';
import { now, REDIS_URL } from './support.js';

/** Redis's `hz` and how late a bare BZPOPMIN with a 150 ms timeout returns. */
export async function redisTimerProbe(
  samples: number,
): Promise<{ hz: string; overshoot: number[] }> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const hz = ((await redis.config('GET', 'hz')) as string[])[1];
  const overshoot: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    await redis.bzpopmin(`bench-empty-${process.pid}`, 0.15);
    overshoot.push(now() - t0 - 150);
  }
  await redis.quit();
  return { hz, overshoot };
}

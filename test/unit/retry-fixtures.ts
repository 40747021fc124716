import { RetryPolicy, type RetryPolicyOptions } from '../../lib/retry/retry-policy.js';

/** Error classes the retry-policy specs match on. */
export class HttpError extends Error {}
export class NotFoundError extends HttpError {}
export class DbError extends Error {}
export class TimeoutError extends Error {}

/** A policy without jitter, so delays are exact. */
export const noJitter = (options: RetryPolicyOptions = {}): RetryPolicy =>
  new RetryPolicy({ jitter: false, ...options });

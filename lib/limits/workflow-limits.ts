import { Injectable } from '@nestjs/common';
import type { LimitDefinition } from '../options/limit-options.interface.js';
import type { LimitInfo } from './limit-info.interface.js';
import { assertLimitText, MAX_LIMIT_NAME_LENGTH, toStoredLimit } from '../options/limit-options.js';
import { LimitStore } from './limit.store.js';
import { UnknownLimitError } from '../errors/unknown-limit.error.js';

/**
 * Named limits at runtime (`client.limits`): change a limit without a redeploy, and see who holds
 * and who waits on each. A change applies to the next acquire on every process at once (the
 * definitions live in PostgreSQL) and wakes the waiters that a larger limit now admits. Slots held
 * above a lowered concurrency stay held until their holders release them; no new holder is
 * admitted until the count is under the new limit.
 *
 * @publicApi
 */
@Injectable()
export class WorkflowLimits {
  constructor(private readonly store: LimitStore) {}

  /**
   * Sets `name` to `definition`, creating the limit if no process declared it. The override wins
   * over `forRoot({ limits })` (even after a redeploy) until {@link reset}.
   * @throws InvalidOptionsError when the name or the definition is invalid
   */
  async set(name: string, definition: LimitDefinition): Promise<void> {
    assertLimitText(name, 'A limit name', MAX_LIMIT_NAME_LENGTH);
    await this.store.setOverride(name, toStoredLimit(name, definition));
  }

  /**
   * Drops the override of {@link set}: the declared definition applies again.
   * @throws UnknownLimitError when no such limit exists
   */
  async reset(name: string): Promise<void> {
    if (!(await this.store.resetOverride(name))) throw new UnknownLimitError(name);
  }

  /**
   * The limit `name`: its definitions, the slots held (by run and step) and the waiting runs.
   * @throws UnknownLimitError when no such limit exists
   */
  async get(name: string): Promise<LimitInfo> {
    const [info] = await this.store.describe([name]);
    if (!info) throw new UnknownLimitError(name);
    return info;
  }

  /** Every named limit, by name. */
  list(): Promise<LimitInfo[]> {
    return this.store.describe();
  }
}

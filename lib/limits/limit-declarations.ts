import { Inject, Injectable } from '@nestjs/common';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { StoredLimit } from '../options/limit-options.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { LimitStore } from './limit.store.js';
import { ENGINE_LIMITS } from './flow.sql.js';

/**
 * Writes the limits this process declares — `forRoot({ limits })` and the workflows' run-level
 * limits (`workflow:<name>:concurrency`, `workflow:<name>:rate`) — before its worker takes a job.
 * A declaration replaces the previous one of the same name (the last process booted wins); a
 * runtime override (`client.limits.set`) is kept.
 */
@Injectable()
export class LimitDeclarations {
  constructor(
    private readonly store: LimitStore,
    private readonly registry: WorkflowRegistry,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Every limit this process declares, by name. */
  declared(): Map<string, StoredLimit> {
    const all = new Map(this.options.limits);
    for (const name of this.registry.names()) {
      const limits = this.registry.get(name)?.limits;
      for (const limit of [limits?.concurrency, limits?.rate, limits?.singleton])
        if (limit) all.set(limit.name, limit.stored);
    }
    for (const [name, stored] of ENGINE_LIMITS) all.set(name, stored);
    return all;
  }

  /** Stores the declarations. */
  async declare(): Promise<void> {
    await this.store.declare(this.declared());
  }
}

import { SetMetadata } from '@nestjs/common';
import { BRANCH_METADATA } from '../options/chrono-forge.constants.js';
import type { BranchOptions } from '../options/workflow-options.interface.js';

/**
 * Makes a provider method a named fan-out scope (step `branch$<name>`). Inside it,
 * `ctx.spawn()`/`ctx.spawnEach()` start child workflows; the branch seals when the method returns
 * and a sealed branch's body is skipped on replay. Join with `ctx.merge(name)` or `automerge`.
 *
 * @publicApi
 */
export function Branch(options: BranchOptions = {}): MethodDecorator {
  return SetMetadata(BRANCH_METADATA, { ...options });
}

import type { WorkflowContext } from '../../lib/index.js';
import type { FuzzLedger } from './ledger.js';
import type { AttrNode, SetNode } from './program.js';

/**
 * A `set` node (`ctx.state.set('k_<id>', 'v_<id>')`) or an `attr` node
 * (`ctx.setAttributes({ a_<id>: 'v_<id>' })`), from workflow code or (`inStep`) inside a
 * `ctx.step` body (`st_<id>` / `sa_<id>`) that writes ledger row `<id>` first.
 */
export async function writeNode(
  ctx: WorkflowContext,
  ledger: FuzzLedger,
  root: string,
  s: SetNode | AttrNode,
): Promise<void> {
  const write = (): void | Promise<void> =>
    s.k === 'set'
      ? ctx.state.set(`k_${s.id}`, `v_${s.id}`)
      : ctx.setAttributes({ [`a_${s.id}`]: `v_${s.id}` });
  if (!s.inStep) return write();
  await ctx.step(`${s.k === 'set' ? 'st' : 'sa'}_${s.id}`, async () => {
    await ledger.record(root, s.id);
    await write();
  });
}

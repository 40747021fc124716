/** One command of the "Try it" tour: what it does and the curl line. */
export interface TryItCommand {
  what: string;
  command: string;
}

/** The example order the tour posts: two mugs for Ada. */
export const TRY_IT_ORDER = {
  orderId: '1001',
  lines: [{ sku: 'MUG-01', quantity: 2 }],
  email: 'ada@example.com',
};

/** Run key of {@link TRY_IT_ORDER} (`order-<orderId>`). */
export const TRY_IT_KEY = `order-${TRY_IT_ORDER.orderId}`;

/**
 * The three commands of the tour against `origin` (e.g. `http://localhost:3000`): start an order,
 * confirm its delivery (the `delivered` signal), read the run back. The landing page and the
 * start-up log print the same ones.
 */
export function tryItCommands(origin: string): TryItCommand[] {
  const json = `-H 'content-type: application/json'`;
  return [
    {
      what: 'Start an order (a durable run of orders.fulfil)',
      command: `curl -s -X POST ${origin}/orders ${json} -d '${JSON.stringify(TRY_IT_ORDER)}'`,
    },
    {
      what: 'Confirm its delivery (the "delivered" signal)',
      command: `curl -s -X POST ${origin}/orders/${TRY_IT_KEY}/signals/delivered ${json} -d '{"receivedBy":"Ada"}'`,
    },
    {
      what: 'Read the run back (state, steps, result)',
      command: `curl -s ${origin}/orders/${TRY_IT_KEY}`,
    },
  ];
}

/** The start-up log's hints: the commands, the live progress stream and the dashboard. */
export function tryItHints(origin: string): string {
  const lines = tryItCommands(origin).map((c, i) => `  ${i + 1}. ${c.what}:\n     ${c.command}`);
  return [
    `Try it (or open ${origin}/ in a browser):`,
    ...lines,
    `  Watch an order's progress live: curl -N ${origin}/orders/${TRY_IT_KEY}/progress`,
    `  Dashboard: ${origin}/chronoforge (start with CHRONOFORGE_DASHBOARD=open to view it locally)`,
  ].join('\n');
}

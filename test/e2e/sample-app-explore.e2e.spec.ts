import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowRunDetail } from '../../lib/index.js';
import {
  ChronoForgeTestingModule,
  type ChronoForgeTestHarness,
  completedSteps,
  type IdleHook,
} from '../../lib/testing/index.js';
import { DeliveryService } from '../../sample-app/delivery/delivery.service.js';
import { InventoryService } from '../../sample-app/inventory/inventory.service.js';
import { NotificationService } from '../../sample-app/notifications/notification.service.js';
import type { DeliveredSignal } from '../../sample-app/orders/dto/delivery-confirmation.dto.js';
import { PACK_LINE_WORKFLOW } from '../../sample-app/orders/line-packing.workflow.js';
import { DELIVERED_SIGNAL, FULFIL_ORDER_WORKFLOW } from '../../sample-app/orders/order.workflow.js';
import { OrdersModule } from '../../sample-app/orders/orders.module.js';
import { DATABASE_URL, QUEUE_BACKEND, REDIS_URL } from '../support/env.js';

/** A reminder tick: its name carries its slot on the (test) clock, which differs per run. */
const isTick = (name: string) => /^durably_repeat\$deliveryReminder\$\d+$/.test(name);

describe('explore on the sample app workflows (e2e)', () => {
  let harness: ChronoForgeTestHarness;
  const delivery: DeliveredSignal = {
    receivedBy: 'Ada Lovelace',
    note: null,
    confirmedAt: new Date('2030-01-02T03:04:05Z'),
  };

  beforeAll(async () => {
    harness = await ChronoForgeTestingModule.create({
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      queue: QUEUE_BACKEND,
      imports: [OrdersModule.register({ coolOff: '5m' })],
    });
  });
  afterAll(() => harness?.close());

  /**
   * The customer's side, as `POST /orders/:key/signals/delivered` does it: once the run reminds
   * (a tick completed), record the delivery and send the `delivered` signal, once per run.
   */
  const confirmDelivery: IdleHook = async (run, h) => {
    if (!run.steps.some((s) => isTick(s.name) && s.state === 'completed')) return;
    if (!h.moduleRef.get(DeliveryService).confirm(run.key)) return;
    await h.client.signal(run.key, DELIVERED_SIGNAL, delivery);
  };

  /** State, result, completed steps with the reminder ticks counted, and the children's outcome. */
  function orderOutcome(run: WorkflowRunDetail) {
    const steps = completedSteps(run);
    return {
      state: run.state,
      result: run.result,
      steps: steps.filter((s) => !isTick(s)),
      reminded: steps.some(isTick),
      branches: run.branches.map((b) => ({ name: b.name, sealed: b.sealed, children: b.children })),
    };
  }

  // 37 runs (the clean one and 36 crash variants), each through a merge, a waitUntil, a sleep, a
  // repeat and a signal: ~30 s alone, slower beside the rest of the suite.
  it(
    `should end every crash variant of "${FULFIL_ORDER_WORKFLOW}" (and of its children) like the clean run`,
    { timeout: 240_000 },
    async () => {
      const order = {
        orderId: 'X-1',
        lines: [
          { sku: 'MUG-01', quantity: 2 },
          { sku: 'TEE-02', quantity: 1 },
        ],
        email: 'ada@example.com',
      };
      const report = await harness.explore(FULFIL_ORDER_WORKFLOW, order, {
        keyPrefix: 'x',
        children: true,
        onIdle: confirmDelivery,
        outcome: orderOutcome,
        timeout: '20s',
      });
      const steps = [
        'branch$packing',
        'durably_repeat$deliveryReminder',
        'merge$packing',
        'signal$delivered',
        'step$delivery.window',
        'step$inventory.reserve',
        'step$notifications.orderDelivered',
        'step$notifications.orderShipped',
        'step$payments.charge',
        'step$shipping.createShipment',
        'wait$coolOff',
        'wait_until$warehouse.readyToShip',
      ];
      expect(report.clean.outcome).toEqual({
        state: 'completed',
        result: expect.objectContaining({
          orderId: 'X-1',
          chargeId: 'ch_X-1',
          amountCents: 2 * 1_250 + 2_400,
          trackingNumber: 'ACME-X-1',
          delivery,
          deliveryNotificationId: 'msg_X-1_delivered',
        }),
        steps,
        reminded: true,
        branches: [{ name: 'packing', sealed: true, children: { completed: 2 } }],
      });
      // Every durable call of the run is a crash point, in the order the run recorded them:
      // steps, timers, the signal wait, the branch seal, its spawn, the merge, the repeat and each
      // of its ticks (named by position: their times differ per run); then the children's.
      const own = [
        'step$inventory.reserve',
        'step$payments.charge',
        'branch$packing',
        'spawn$packing$line',
        'merge$packing',
        'wait_until$warehouse.readyToShip',
        'wait$coolOff',
        'step$shipping.createShipment',
        'step$notifications.orderShipped',
        'step$delivery.window',
        'durably_repeat$deliveryReminder',
        'durably_repeat$deliveryReminder$tick1',
        'durably_repeat$deliveryReminder$tick2',
        'durably_repeat$deliveryReminder$tick3',
        'signal$delivered',
        'step$notifications.orderDelivered',
      ];
      const crashes = report.variants.map((v) => `${v.crashedKey.slice(1)} ${v.step}:${v.phase}`);
      expect(crashes).toEqual([
        ...own.flatMap((step) => [
          `-${step}-before ${step}:before`,
          `-${step}-after ${step}:after`,
        ]),
        ...[0, 1].flatMap((n) =>
          ['before', 'after'].map(
            (p) =>
              `-orders.fulfil$packing$line_${n}-step$warehouse.packLine-${p}$orders.fulfil$packing$line_${n} step$warehouse.packLine:${p}`,
          ),
        ),
      ]);
      expect(report.variants.filter((v) => !v.ok)).toEqual([]);
      expect(report.ok).toBe(true);
      // The stock is reserved once (the step is idempotent per order); the e-mail step's body runs
      // once per run (clean + 36 variants) and once more where the crash struck before its checkpoint.
      expect(harness.moduleRef.get(InventoryService).available('MUG-01')).toBe(998);
      const outbox = harness.moduleRef.get(NotificationService).outbox.map((m) => m.messageId);
      expect(outbox.filter((id) => id === 'msg_X-1_shipped')).toHaveLength(1 + 36 + 1);
      expect(outbox.filter((id) => id === 'msg_X-1_delivered')).toHaveLength(1 + 36 + 1);
    },
  );

  it(`should end every crash variant of "${PACK_LINE_WORKFLOW}" like the clean run`, async () => {
    const line = { orderId: 'Y-1', lineNo: 0, lineCount: 1, sku: 'CAP-03', quantity: 3 };
    const report = await harness.explore(PACK_LINE_WORKFLOW, line, { keyPrefix: 'y' });
    expect(report.clean).toMatchObject({
      state: 'completed',
      result: { orderId: 'Y-1', lineNo: 0, sku: 'CAP-03', quantity: 3, binId: 'bin_Y-1_0' },
      steps: ['step$warehouse.packLine'],
    });
    expect(report.variants.map((v) => [v.step, v.phase, v.ok])).toEqual([
      ['step$warehouse.packLine', 'before', true],
      ['step$warehouse.packLine', 'after', true],
    ]);
  });
});

import { startSampleApp } from '../support/sample-app.js';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowState } from '../../lib/index.js';
import { InventoryService } from '../../sample-app/inventory/inventory.service.js';
import { NotificationService } from '../../sample-app/notifications/notification.service.js';
import { PaymentsService } from '../../sample-app/payments/payments.service.js';
import { PACK_LINE_WORKFLOW as PACK } from '../../sample-app/orders/line-packing.workflow.js';
import type { OrderRunRef, OrderRunView } from '../../sample-app/orders/order.presenter.js';
import * as env from '../support/env.js';

/** Status and JSON body of one HTTP call. */
type Reply<T> = { status: number; body: T };

/** Error body of the sample's exception filter. */
type ErrorBody = { statusCode: number; code: string; message: string | string[] };

describe('sample app over HTTP (e2e)', () => {
  const schema = env.uniqueName('cf_sample');
  const queueName = env.uniqueName('q_sample');
  let app: INestApplication;
  let baseUrl: string;

  async function call<T>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Polls `GET /orders/:key` until the run is in `state` (and `until` holds). */
  function waitFor(key: string, state: WorkflowState, until?: (run: OrderRunView) => boolean) {
    return env.eventually(async () => {
      const { body } = await call<OrderRunView>('GET', `/orders/${key}`);
      return body.state === state && (until?.(body) ?? true) ? body : undefined;
    }, 15_000);
  }

  beforeAll(async () => {
    ({ app, origin: baseUrl } = await startSampleApp({
      schema,
      queueName,
      orders: { coolOff: '100ms' },
    }));
  });

  afterAll(async () => {
    await app?.close();
    await env.cleanup(schema, queueName);
  });

  const order = {
    orderId: 'A-1001',
    lines: [
      { sku: 'MUG-01', quantity: 2 },
      { sku: 'TEE-02', quantity: 1 },
      { sku: 'CAP-03', quantity: 3 },
    ],
    email: 'ada@example.com',
  };
  /** Steps of a delivered order other than the reminder ticks, in order. */
  const FLOW = `step$inventory.reserve step$payments.charge branch$packing merge$packing
    wait_until$warehouse.readyToShip wait$coolOff step$shipping.createShipment
    step$notifications.orderShipped step$delivery.window durably_repeat$deliveryReminder
    signal$delivered step$notifications.orderDelivered $workflow_completion$`.split(/\s+/);
  const isTick = (s: { name: string }) => /^durably_repeat\$deliveryReminder\$\d+$/.test(s.name);
  const delivered = (key: string) => `/orders/${key}/signals/delivered`;

  it('should pack, ship, remind and finish on the delivered signal, all over HTTP', async () => {
    expect((await call('POST', '/orders', order)).status).toBe(202);
    // Shipped and reminding: the run waits for the delivery confirmation.
    await waitFor('order-A-1001', 'idle', (run) => run.steps.some(isTick));
    const ada = await call('POST', delivered('order-A-1001'), { receivedBy: 'Ada Lovelace' });
    expect(ada.status).toBe(202);
    const run = await waitFor('order-A-1001', 'completed');
    const ticks = run.steps.filter(isTick);
    expect(ticks.every((t) => t.state === 'completed' && t.attempts === 1)).toBe(true);
    expect(run.steps.filter((s) => !isTick(s))).toEqual(
      FLOW.map((name) => ({ name, state: 'completed', attempts: expect.any(Number) })),
    );
    const kids = order.lines.map(
      (_, n) => `order-A-1001$orders.fulfil$packing$line_${n} ${PACK} completed`,
    );
    expect(run.children.map((c) => `${c.key} ${c.workflow} ${c.state}`)).toEqual(kids);
    expect(run.result).toMatchObject({
      chargeId: 'ch_A-1001',
      amountCents: 2 * 1_250 + 2_400 + 3 * 1_900,
      trackingNumber: 'ACME-A-1001',
      delivery: { receivedBy: 'Ada Lovelace', note: null, confirmedAt: expect.any(String) },
      deliveryNotificationId: 'msg_A-1001_delivered',
    });
    expect(run.errors).toEqual([]);
    const reminders = ticks.map((t) => `msg_A-1001_reminder_${t.name.split('$')[2]}`);
    const outbox = app.get(NotificationService).outbox.map((m) => m.messageId);
    expect(outbox).toEqual(['msg_A-1001_shipped', ...reminders, 'msg_A-1001_delivered']);
  });

  it('should return the existing run when an order is posted again, and list it once', async () => {
    const first = await call<OrderRunView>('GET', '/orders/order-A-1001');
    const again = await call<OrderRunRef>('POST', '/orders', { ...order, email: 'o@x.io' });
    expect(again.body).toEqual({ key: 'order-A-1001', id: first.body.id, state: 'completed' });
    const list = await call<OrderRunRef[]>('GET', '/orders?state=completed');
    expect(list.status).toBe(200);
    expect(list.body.filter((r) => r.key === 'order-A-1001')).toHaveLength(1);
    expect(app.get(InventoryService).available('MUG-01')).toBe(998);
  });

  it('should answer 400 with validation messages for an invalid order or signal body', async () => {
    const bad = { orderId: 'B-1', lines: [{ sku: 'MUG-01', quantity: 0 }], email: 'not-an-email' };
    const res = await call<ErrorBody>('POST', '/orders', bad);
    expect(res).toMatchObject({ status: 400, body: { code: 'CHRONOFORGE_INPUT_VALIDATION' } });
    const why = ['email must be an email', 'lines.0.quantity: quantity must not be less than 1'];
    expect(res.body.message).toEqual(expect.arrayContaining(why));
    expect((await call('GET', '/orders/order-B-1')).status).toBe(404);
    expect((await call<ErrorBody>('GET', '/orders?state=bogus')).status).toBe(400);
    const signal = await call<ErrorBody>('POST', delivered('order-B-1'), { receivedBy: '', x: 1 });
    const messages = ['property x should not exist', 'receivedBy should not be empty'];
    expect(signal).toMatchObject({ status: 400, body: { message: messages } });
  });

  it('should answer 404 for an unknown key and 409 for acting on a completed order', async () => {
    const res = await call<ErrorBody>('GET', '/orders/order-nope');
    expect(res).toMatchObject({ status: 404, body: { code: 'CHRONOFORGE_WORKFLOW_NOT_FOUND' } });
    expect((await call('POST', '/orders/order-nope/cancel')).status).toBe(404);
    expect((await call('POST', '/orders/order-A-1001/retry')).status).toBe(409);
    expect((await call('POST', '/orders/order-A-1001/cancel')).status).toBe(409);
    const bob = { receivedBy: 'Bob' };
    expect((await call('POST', delivered('order-nope'), bob)).status).toBe(404);
    const late = await call<ErrorBody>('POST', delivered('order-A-1001'), bob);
    expect(late).toMatchObject({ status: 409, body: { code: 'CHRONOFORGE_INVALID_TRANSITION' } });
  });

  it('should refund and restock an order the carrier refuses, last step first', async () => {
    const sofa = { orderId: 'S-1', lines: [{ sku: 'SOFA-04', quantity: 2 }], email: 's@x.io' };
    expect((await call('POST', '/orders', sofa)).status).toBe(202);
    const run = await waitFor('order-S-1', 'compensated');
    const names = run.steps.map((s) => s.name);
    expect(names.slice(-2)).toEqual([
      '$compensate$step$payments.charge',
      '$compensate$step$inventory.reserve',
    ]);
    expect(run.errors.map((e) => e.errorClass)).toEqual([
      'ShipmentRefusedError',
      'OrderNotShippableError',
    ]);
    expect(app.get(PaymentsService).findRefund('S-1')).toMatchObject({ chargeId: 'ch_S-1' });
    expect(app.get(InventoryService).findReservation('S-1')).toBeUndefined();
    expect(app.get(InventoryService).available('SOFA-04')).toBe(20);
  });

  it('should stall an order it cannot stock, then let an operator retry and cancel it', async () => {
    const ghost = { orderId: 'C-1', lines: [{ sku: 'GHOST-99', quantity: 1 }], email: 'c@x.io' };
    expect((await call('POST', '/orders', ghost)).status).toBe(202);
    const stalled = await waitFor('order-C-1', 'stalled');
    const reserve = 'step$inventory.reserve';
    expect(stalled.steps).toEqual([{ name: reserve, state: 'failed', attempts: 1 }]);
    const errors = stalled.errors.map((e) => [e.stepName, e.attempt, e.errorClass]);
    expect(errors).toEqual([[reserve, 1, 'OutOfStockError']]);
    expect((await call('POST', '/orders/order-C-1/retry')).status).toBe(202);
    await waitFor('order-C-1', 'stalled', (run) => run.errors.length === 2);
    const cancelled = await call<OrderRunRef>('POST', '/orders/order-C-1/cancel');
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'cancelled' } });
    const again = await call<ErrorBody>('POST', '/orders/order-C-1/cancel');
    expect(again).toMatchObject({ status: 409, body: { code: 'CHRONOFORGE_INVALID_TRANSITION' } });
  });
});

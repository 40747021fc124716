import { type DynamicModule, Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { InventoryModule } from '../inventory/inventory.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { PaymentsModule } from '../payments/payments.module.js';
import { ShippingModule } from '../shipping/shipping.module.js';
import { WarehouseModule } from '../warehouse/warehouse.module.js';
import { LinePackingWorkflow } from './line-packing.workflow.js';
import { DEFAULT_ORDER_TIMINGS, ORDER_TIMINGS, type OrderTimings } from './order-timings.config.js';
import { OrderWorkflow } from './order.workflow.js';
import { OrdersController } from './orders.controller.js';

/** `timings` over the defaults, ignoring keys set to `undefined`. */
function withDefaults(timings: Partial<OrderTimings>): OrderTimings {
  const given = Object.entries(timings).filter(([, value]) => value !== undefined);
  return { ...DEFAULT_ORDER_TIMINGS, ...Object.fromEntries(given) };
}

/**
 * Order fulfilment: the `orders.fulfil` workflow, its `orders.line.pack` children and the HTTP
 * API. The steps live in the inventory, payments, warehouse, shipping and delivery modules;
 * ChronoForge's client and context are global.
 */
@Module({})
export class OrdersModule {
  /** The module with the given timings (defaults: {@link DEFAULT_ORDER_TIMINGS}). */
  static register(timings: Partial<OrderTimings> = {}): DynamicModule {
    return {
      module: OrdersModule,
      imports: [
        InventoryModule,
        PaymentsModule,
        WarehouseModule,
        ShippingModule,
        NotificationsModule,
        DeliveryModule,
      ],
      controllers: [OrdersController],
      providers: [
        OrderWorkflow,
        LinePackingWorkflow,
        { provide: ORDER_TIMINGS, useValue: withDefaults(timings) },
      ],
    };
  }
}

import { Injectable } from '@nestjs/common';
import { Workflow, WorkflowContext } from '../../lib/index.js';
import { InventoryService } from '../inventory/inventory.service.js';
import { NotificationService } from '../notifications/notification.service.js';
import { PaymentsService } from '../payments/payments.service.js';
import { ShippingService } from '../shipping/shipping.service.js';
import { FulfilOrderDto } from './dto/fulfil-order.dto.js';

/** Persisted name of the order workflow; never rename it while runs are in flight. */
export const FULFIL_ORDER_WORKFLOW = 'orders.fulfil';

/** What a completed `orders.fulfil` run returns. */
export interface OrderFulfilment {
  orderId: string;
  reservationId: string;
  chargeId: string;
  amountCents: number;
  currency: string;
  chargedAt: Date;
  trackingNumber: string;
  notificationId: string;
}

/**
 * The order-fulfilment workflow: reserve stock, charge the card, book a shipment, e-mail the
 * customer. Each call is a durable step, so after a crash or restart the run replays from the top
 * and completed steps return their stored results instead of running again.
 */
@Injectable()
export class OrderWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly inventory: InventoryService,
    private readonly payments: PaymentsService,
    private readonly shipping: ShippingService,
    private readonly notifications: NotificationService,
  ) {}

  /** Fulfils one order; started by `POST /orders` with the key `order-<orderId>`. */
  @Workflow(FULFIL_ORDER_WORKFLOW, { input: FulfilOrderDto })
  async fulfil(order: FulfilOrderDto): Promise<OrderFulfilment> {
    const reservation = await this.inventory.reserve(order.orderId, order.lines);
    const charge = await this.payments.charge(order.orderId, reservation.lines);
    const shipment = await this.shipping.createShipment(reservation);
    const email = await this.ctx.step('notifications.orderShipped', () =>
      this.notifications.sendOrderShipped(order.email, order.orderId, shipment.trackingNumber),
    );
    return {
      orderId: order.orderId,
      reservationId: reservation.reservationId,
      chargeId: charge.chargeId,
      amountCents: charge.amountCents,
      currency: charge.currency,
      chargedAt: charge.chargedAt,
      trackingNumber: shipment.trackingNumber,
      notificationId: email.messageId,
    };
  }
}

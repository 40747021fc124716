import { Inject, Injectable } from '@nestjs/common';
import {
  Branch,
  ExecutionFailedError,
  RetryPolicy,
  Workflow,
  WorkflowContext,
} from '@chronoforge/nestjs';
import { DeliveryReminderService } from '../delivery/delivery-reminder.service.js';
import { InventoryService } from '../inventory/inventory.service.js';
import { NotificationService } from '../notifications/notification.service.js';
import { PaymentsService } from '../payments/payments.service.js';
import { ShippingService } from '../shipping/shipping.service.js';
import { WarehouseService } from '../warehouse/warehouse.service.js';
import type { DeliveredSignal } from './dto/delivery-confirmation.dto.js';
import { FulfilOrderDto } from './dto/fulfil-order.dto.js';
import type { PackLineDto } from './dto/pack-line.dto.js';
import { OrderNotShippableError } from './order-not-shippable.error.js';
import { PACK_LINE_WORKFLOW } from './line-packing.workflow.js';
import { durationMs, ORDER_TIMINGS, type OrderTimings } from './order-timings.config.js';

/** Persisted name of the order workflow; never rename it while runs are in flight. */
export const FULFIL_ORDER_WORKFLOW = 'orders.fulfil';
/** Name of the branch that fans out one `orders.line.pack` child per order line. */
export const PACKING_BRANCH = 'packing';
/** Name of the signal `POST /orders/:key/signals/delivered` sends. */
export const DELIVERED_SIGNAL = 'delivered';
/** How long the run waits for the `delivered` payload once reminders stopped. */
const SIGNAL_GRACE = '1m';

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
  delivery: DeliveredSignal;
  deliveryNotificationId: string;
}

/**
 * The order-fulfilment workflow: reserve stock, charge the card, pack every line in a child
 * workflow and join them, wait until the parcel is at the dock, sleep through a cool-off period,
 * book the shipment, e-mail the customer, remind them until the delivery is confirmed and finish
 * with the confirmation. Every call is durable, so after a crash, restart or deploy the run replays
 * from the top and completed steps, timers, branches and ticks return their stored outcome.
 */
@Injectable()
export class OrderWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly inventory: InventoryService,
    private readonly payments: PaymentsService,
    private readonly warehouse: WarehouseService,
    private readonly shipping: ShippingService,
    private readonly notifications: NotificationService,
    private readonly reminders: DeliveryReminderService,
    @Inject(ORDER_TIMINGS) private readonly timings: OrderTimings,
  ) {}

  /**
   * Fulfils one order; started by `POST /orders` with the key `order-<orderId>`. An order that
   * cannot ship fails and rolls back (`compensateOn: ['failed']`): the charge is refunded, then the
   * stock released (the compensations of `payments.charge` and `inventory.reserve`, last first). A
   * stall (out of stock, no delivery confirmation) waits for an operator instead.
   */
  @Workflow(FULFIL_ORDER_WORKFLOW, {
    input: FulfilOrderDto,
    compensateOn: ['failed'],
    retry: [
      new RetryPolicy({ maxAttempts: 1, retryOn: [OrderNotShippableError] }),
      new RetryPolicy({ maxAttempts: 3, base: '1s', cap: '30s' }),
    ],
  })
  async fulfil(order: FulfilOrderDto): Promise<OrderFulfilment> {
    const reservation = await this.inventory.reserve(order.orderId, order.lines);
    const charge = await this.payments.charge(order.orderId, reservation.lines);

    await this.packLines(order);
    await this.ctx.merge(PACKING_BRANCH, { minInterval: '200ms', maxInterval: '1s' });
    await this.ctx.waitUntil(
      'warehouse.readyToShip',
      () => this.warehouse.isReadyToShip(order.orderId),
      { checkEvery: '100ms', timeout: '10m' },
    );
    await this.ctx.sleep(this.timings.coolOff, 'coolOff');

    const shipment = await this.shipping.createShipment(reservation).catch((err: unknown) => {
      if (err instanceof ExecutionFailedError) throw new OrderNotShippableError(order.orderId, err);
      throw err;
    });
    const shipped = await this.ctx.step('notifications.orderShipped', () =>
      this.notifications.sendOrderShipped(order.email, order.orderId, shipment.trackingNumber),
    );
    const delivery = await this.awaitDelivery(order);
    const thanked = await this.ctx.step('notifications.orderDelivered', () =>
      this.notifications.sendOrderDelivered(order.email, order.orderId, delivery.receivedBy),
    );
    return {
      orderId: order.orderId,
      reservationId: reservation.reservationId,
      chargeId: charge.chargeId,
      amountCents: charge.amountCents,
      currency: charge.currency,
      chargedAt: charge.chargedAt,
      trackingNumber: shipment.trackingNumber,
      notificationId: shipped.messageId,
      delivery,
      deliveryNotificationId: thanked.messageId,
    };
  }

  /**
   * Branch `packing`: one `orders.line.pack` child per line, keyed by the line's index. The branch
   * seals when this returns; a replay skips the body, and a crash half-way resumes the cursor
   * without spawning a child twice. `fulfil` joins the children with `ctx.merge('packing')`.
   */
  @Branch({ name: PACKING_BRANCH })
  async packLines(order: FulfilOrderDto): Promise<void> {
    await this.ctx.spawnEach('line', order.lines, (line, lineNo) => ({
      workflow: PACK_LINE_WORKFLOW,
      input: {
        orderId: order.orderId,
        lineNo,
        lineCount: order.lines.length,
        sku: line.sku,
        quantity: line.quantity,
      } satisfies PackLineDto,
    }));
  }

  /**
   * Reminds the customer until the delivery is confirmed, then takes the confirmation from the
   * `delivered` signal.
   *
   * Why a `@Repeat` followed by `waitForSignal` rather than one wait: a repeat occupies the run
   * until its `till` holds, so it cannot race a signal wait. Its `till` instead reads the
   * `DeliveryService` flag the HTTP endpoint sets before signalling (and the signal wakes
   * the run at once, rather than at the next tick); then `waitForSignal` consumes the payload,
   * which PostgreSQL stored when it was sent. Replays stay deterministic: the window's end is a
   * step result, a completed repeat is skipped without evaluating `till`, and the consumed
   * payload is returned from the step log. Should the in-memory flag be lost (a restart), the
   * reminders stop when the window closes and the queued signal is consumed then; with no
   * signal at all the wait times out after {@link SIGNAL_GRACE} and the run stalls for an operator.
   */
  private async awaitDelivery(order: FulfilOrderDto): Promise<DeliveredSignal> {
    const window = this.timings.deliveryWindow;
    const remindUntil = await this.ctx.step('delivery.window', () => {
      return new Date(Date.now() + durationMs(window, 'deliveryWindow'));
    });
    await this.reminders.remind({
      runKey: this.ctx.key,
      orderId: order.orderId,
      email: order.email,
      remindUntil,
    });
    return this.ctx.waitForSignal<DeliveredSignal>(DELIVERED_SIGNAL, { timeout: SIGNAL_GRACE });
  }
}

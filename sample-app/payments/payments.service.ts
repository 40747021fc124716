import { Injectable } from '@nestjs/common';
import { DurableStep } from '@chronoforge/nestjs';
import type { ReservedLine } from '../inventory/inventory.service.js';

/** A captured card payment. */
export interface Charge {
  chargeId: string;
  orderId: string;
  amountCents: number;
  currency: 'EUR';
  chargedAt: Date;
}

/**
 * A stand-in for a card processor. Charges are idempotent per order id (like a PSP's idempotency
 * key), so the card is charged once even if the step body runs again after a crash.
 */
@Injectable()
export class PaymentsService {
  private readonly charges = new Map<string, Charge>();
  private readonly refunds = new Map<string, Charge>();

  /**
   * Durable step `payments.charge`: charges the order's total; retried with the default policy.
   * Compensated by {@link refund}.
   */
  @DurableStep('payments.charge', { compensate: 'refund' })
  async charge(orderId: string, lines: readonly ReservedLine[]): Promise<Charge> {
    const existing = this.charges.get(orderId);
    if (existing) return existing;
    const charge: Charge = {
      chargeId: `ch_${orderId}`,
      orderId,
      amountCents: lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0),
      currency: 'EUR',
      chargedAt: new Date(),
    };
    this.charges.set(orderId, charge);
    return charge;
  }

  /**
   * Compensation of `payments.charge` (when the order rolls back): refunds the recorded charge.
   * Idempotent per order id, like a PSP refund with an idempotency key.
   */
  async refund(orderId: string, _lines: readonly ReservedLine[], charge: Charge): Promise<void> {
    if (!this.refunds.has(orderId)) this.refunds.set(orderId, charge);
  }

  /** The refunded charge of an order, if it was refunded. */
  findRefund(orderId: string): Charge | undefined {
    return this.refunds.get(orderId);
  }

  /** The charge of an order, if any. */
  find(orderId: string): Charge | undefined {
    return this.charges.get(orderId);
  }
}

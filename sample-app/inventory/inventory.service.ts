import { Injectable } from '@nestjs/common';
import { DurableStep, RetryPolicy } from '@chronoforge/nestjs';
import { CATALOG } from './catalog.constants.js';
import { OutOfStockError } from './out-of-stock.error.js';

/** A line as the warehouse reserved it, priced from the catalog. */
export interface ReservedLine {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/** Stock held for one order. */
export interface StockReservation {
  reservationId: string;
  orderId: string;
  lines: ReservedLine[];
}

/**
 * The warehouse: in-memory stock levels seeded from {@link CATALOG}. Reservations are idempotent
 * per order id, so a step body that runs again after a crash does not reserve twice.
 */
@Injectable()
export class InventoryService {
  private readonly stock = new Map(
    Object.entries(CATALOG).map(([sku, item]) => [sku, item.initialStock]),
  );
  private readonly reservations = new Map<string, StockReservation>();

  /**
   * Durable step `inventory.reserve`: reserves every line or none. `OutOfStockError` is final
   * (one attempt); any other error is retried up to 3 times. Compensated by {@link release}.
   */
  @DurableStep('inventory.reserve', {
    retry: [
      new RetryPolicy({ maxAttempts: 1, retryOn: [OutOfStockError] }),
      new RetryPolicy({ maxAttempts: 3, base: '200ms', cap: '2s' }),
    ],
    compensate: 'release',
  })
  async reserve(
    orderId: string,
    lines: ReadonlyArray<{ sku: string; quantity: number }>,
  ): Promise<StockReservation> {
    const existing = this.reservations.get(orderId);
    if (existing) return existing;
    const wanted = new Map<string, number>();
    for (const line of lines) wanted.set(line.sku, (wanted.get(line.sku) ?? 0) + line.quantity);
    for (const [sku, quantity] of wanted) {
      const available = this.available(sku);
      if (available < quantity) throw new OutOfStockError(sku, quantity, available);
    }
    for (const [sku, quantity] of wanted) this.stock.set(sku, this.available(sku) - quantity);
    const reservation: StockReservation = {
      reservationId: `res_${orderId}`,
      orderId,
      lines: [...wanted].map(([sku, quantity]) => ({
        sku,
        quantity,
        unitPriceCents: CATALOG[sku].priceCents,
      })),
    };
    this.reservations.set(orderId, reservation);
    return reservation;
  }

  /**
   * Compensation of `inventory.reserve` (when the order rolls back): puts the reserved units back.
   * Receives the step's arguments and its recorded reservation; idempotent per order id.
   */
  async release(
    orderId: string,
    _lines: ReadonlyArray<{ sku: string; quantity: number }>,
    reservation: StockReservation,
  ): Promise<void> {
    if (!this.reservations.delete(orderId)) return;
    for (const line of reservation.lines)
      this.stock.set(line.sku, this.available(line.sku) + line.quantity);
  }

  /** The reservation of an order, if it holds one. */
  findReservation(orderId: string): StockReservation | undefined {
    return this.reservations.get(orderId);
  }

  /** Goods received: `quantity` more units of `sku` (orders that stalled on it can be retried). */
  restock(sku: string, quantity: number): void {
    if (!Number.isInteger(quantity) || quantity < 1) {
      throw new RangeError(`restock quantity must be a positive integer, got ${quantity}`);
    }
    this.stock.set(sku, this.available(sku) + quantity);
  }

  /** Units of `sku` not yet reserved. */
  available(sku: string): number {
    return this.stock.get(sku) ?? 0;
  }
}

import { Injectable } from '@nestjs/common';

/**
 * The shop's record of confirmed deliveries, by run key: `POST /orders/:key/signals/delivered`
 * sets it before it signals the run, and the delivery reminders stop once it is set. In memory like
 * the other sample services; a real shop would keep it in a table (or ask the carrier's tracking
 * API), so that it survives restarts.
 */
@Injectable()
export class DeliveryService {
  private readonly confirmed = new Set<string>();

  /** Records the delivery of run `key`; returns whether it was not recorded before. */
  confirm(key: string): boolean {
    if (this.confirmed.has(key)) return false;
    this.confirmed.add(key);
    return true;
  }

  /** Withdraws a confirmation that could not be delivered to its run. */
  withdraw(key: string): void {
    this.confirmed.delete(key);
  }

  /** Whether the delivery of run `key` was confirmed. */
  isDelivered(key: string): boolean {
    return this.confirmed.has(key);
  }
}

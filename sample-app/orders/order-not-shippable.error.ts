/**
 * An order whose shipment could not be booked (refused, or the carrier kept failing). The order
 * workflow fails with it at once, and the run rolls back: refund, then release the stock.
 */
export class OrderNotShippableError extends Error {
  constructor(
    readonly orderId: string,
    options?: { cause?: unknown },
  ) {
    super(`Order ${orderId} cannot be shipped`, options);
    this.name = 'OrderNotShippableError';
  }
}

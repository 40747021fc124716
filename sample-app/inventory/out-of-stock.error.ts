/**
 * The warehouse cannot serve a line of an order. A business error: retrying the step does not help,
 * so the run stalls and an operator decides (`POST /orders/:key/retry` or `/cancel`).
 */
export class OutOfStockError extends Error {
  constructor(
    readonly sku: string,
    readonly requested: number,
    readonly available: number,
  ) {
    super(`SKU "${sku}": ${requested} requested, ${available} available`);
    this.name = 'OutOfStockError';
  }
}

/** The carrier refuses a parcel (e.g. a freight item): final, retrying does not help. */
export class ShipmentRefusedError extends Error {
  constructor(
    readonly orderId: string,
    readonly sku: string,
  ) {
    super(`The carrier refuses to ship "${sku}" of order ${orderId} as a parcel`);
    this.name = 'ShipmentRefusedError';
  }
}

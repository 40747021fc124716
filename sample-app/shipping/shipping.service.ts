import { Injectable } from '@nestjs/common';
import { DurableStep, RetryPolicy } from '@chronoforge/nestjs';
import { CATALOG } from '../inventory/catalog.constants.js';
import type { StockReservation } from '../inventory/inventory.service.js';
import { ShipmentRefusedError } from './shipment-refused.error.js';

/** A parcel booked with the carrier. */
export interface Shipment {
  shipmentId: string;
  orderId: string;
  carrier: string;
  trackingNumber: string;
  parcels: number;
}

/** A stand-in for a carrier API; shipments are idempotent per order id. */
@Injectable()
export class ShippingService {
  private readonly shipments = new Map<string, Shipment>();

  /**
   * Durable step `shipping.createShipment`: books one parcel per 10 units. A freight item is
   * refused (`ShipmentRefusedError`, final); other errors are retried up to 3 times.
   */
  @DurableStep('shipping.createShipment', {
    retry: [
      new RetryPolicy({ maxAttempts: 1, retryOn: [ShipmentRefusedError] }),
      new RetryPolicy({ maxAttempts: 3, base: '200ms', cap: '2s' }),
    ],
  })
  async createShipment(reservation: StockReservation): Promise<Shipment> {
    const { orderId } = reservation;
    const existing = this.shipments.get(orderId);
    if (existing) return existing;
    const freight = reservation.lines.find((l) => CATALOG[l.sku]?.freight);
    if (freight) throw new ShipmentRefusedError(orderId, freight.sku);
    const units = reservation.lines.reduce((sum, l) => sum + l.quantity, 0);
    const shipment: Shipment = {
      shipmentId: `shp_${orderId}`,
      orderId,
      carrier: 'ACME Parcel',
      trackingNumber: `ACME-${orderId.toUpperCase()}`,
      parcels: Math.ceil(units / 10),
    };
    this.shipments.set(orderId, shipment);
    return shipment;
  }
}

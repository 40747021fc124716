import { Injectable } from '@nestjs/common';
import { DurableStep } from '@chronoforge/nestjs';
import type { StockReservation } from '../inventory/inventory.service.js';

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

  /** Durable step `shipping.createShipment`: books one parcel per 10 units. */
  @DurableStep('shipping.createShipment')
  async createShipment(reservation: StockReservation): Promise<Shipment> {
    const { orderId } = reservation;
    const existing = this.shipments.get(orderId);
    if (existing) return existing;
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

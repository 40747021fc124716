import { Module } from '@nestjs/common';
import { ShippingService } from './shipping.service.js';

/** Parcel bookings with the carrier. */
@Module({ providers: [ShippingService], exports: [ShippingService] })
export class ShippingModule {}

import { Module } from '@nestjs/common';
import { InventoryService } from './inventory.service.js';

/** The warehouse: stock levels and reservations. */
@Module({ providers: [InventoryService], exports: [InventoryService] })
export class InventoryModule {}

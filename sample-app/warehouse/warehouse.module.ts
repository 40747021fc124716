import { Module } from '@nestjs/common';
import { WarehouseService } from './warehouse.service.js';

/** Picking and packing, and the loading dock. */
@Module({ providers: [WarehouseService], exports: [WarehouseService] })
export class WarehouseModule {}

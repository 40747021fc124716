import { Injectable } from '@nestjs/common';
import { Workflow } from '@chronoforge/nestjs';
import { type PackedLine, WarehouseService } from '../warehouse/warehouse.service.js';
import { PackLineDto } from './dto/pack-line.dto.js';

/** Persisted name of the per-line child workflow. */
export const PACK_LINE_WORKFLOW = 'orders.line.pack';

/**
 * Child workflow that packs one order line. `orders.fulfil` spawns one per line (keys
 * `order-<orderId>$orders.fulfil$packing$line_<n>`), so lines are packed in parallel by any worker and each
 * has its own retries, steps and state in `GET /orders/:key`'s `children`.
 */
@Injectable()
export class LinePackingWorkflow {
  constructor(private readonly warehouse: WarehouseService) {}

  /** Packs the line (durable step `warehouse.packLine`) and returns where it went. */
  @Workflow(PACK_LINE_WORKFLOW, { input: PackLineDto })
  async pack(line: PackLineDto): Promise<PackedLine> {
    return this.warehouse.packLine(line);
  }
}

import { Injectable } from '@nestjs/common';
import { DurableStep } from '@chronoforge/nestjs';

/** What the warehouse is asked to pack: line `lineNo` (0-based) of `lineCount` of an order. */
export interface LineToPack {
  orderId: string;
  lineNo: number;
  lineCount: number;
  sku: string;
  quantity: number;
}

/** A packed order line, in the bin it was put in. */
export interface PackedLine {
  orderId: string;
  lineNo: number;
  sku: string;
  quantity: number;
  binId: string;
}

/** Time a sealed parcel takes to reach the loading dock after its last line was packed. */
export const DOCK_HANDOVER_MS = 300;

/**
 * A stand-in for a warehouse management system, in memory like the other sample services. An
 * order's parcel is sealed when every line is packed and is ready to ship
 * {@link DOCK_HANDOVER_MS} later: a short, deterministic delay the workflow's `waitUntil` polls.
 */
@Injectable()
export class WarehouseService {
  private readonly packed = new Map<string, Map<number, PackedLine>>();
  private readonly sealedAt = new Map<string, number>();

  /** Durable step `warehouse.packLine`: idempotent per order line. */
  @DurableStep('warehouse.packLine')
  async packLine(line: LineToPack): Promise<PackedLine> {
    const lines = this.packed.get(line.orderId) ?? new Map<number, PackedLine>();
    this.packed.set(line.orderId, lines);
    const existing = lines.get(line.lineNo);
    if (existing) return existing;
    const packed: PackedLine = {
      orderId: line.orderId,
      lineNo: line.lineNo,
      sku: line.sku,
      quantity: line.quantity,
      binId: `bin_${line.orderId}_${line.lineNo}`,
    };
    lines.set(line.lineNo, packed);
    if (lines.size === line.lineCount) this.sealedAt.set(line.orderId, Date.now());
    return packed;
  }

  /** Whether the order's parcel is sealed and has reached the loading dock. */
  isReadyToShip(orderId: string): boolean {
    const sealedAt = this.sealedAt.get(orderId);
    return sealedAt !== undefined && Date.now() >= sealedAt + DOCK_HANDOVER_MS;
  }

  /** The packed lines of an order, by line number. */
  linesOf(orderId: string): PackedLine[] {
    return [...(this.packed.get(orderId)?.values() ?? [])].sort((a, b) => a.lineNo - b.lineNo);
  }
}

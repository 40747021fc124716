import { IsInt, IsNotEmpty, IsString, Max, MaxLength, Min } from 'class-validator';
import type { LineToPack } from '../../warehouse/warehouse.service.js';

/**
 * Input of the `orders.line.pack` child workflow: line `lineNo` (0-based) of the `lineCount` lines
 * of an order. ChronoForge validates it when the parent spawns the child.
 */
export class PackLineDto implements LineToPack {
  @IsString()
  @IsNotEmpty()
  orderId: string;

  @IsInt()
  @Min(0)
  lineNo: number;

  @IsInt()
  @Min(1)
  @Max(50)
  lineCount: number;

  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  sku: string;

  @IsInt()
  @Min(1)
  quantity: number;
}

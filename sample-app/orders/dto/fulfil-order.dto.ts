import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsEmail,
  IsInt,
  IsNotEmpty,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

/** One line of an order: a SKU and how many units of it. */
export class OrderLineDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  sku: string;

  @IsInt()
  @Min(1)
  @Max(1_000)
  quantity: number;
}

/**
 * Input of the `orders.fulfil` workflow and body of `POST /orders`. ChronoForge validates it at
 * `start()` and hands the workflow method an instance.
 */
export class FulfilOrderDto {
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'orderId must be 1 to 64 letters, digits, "-" or "_"',
  })
  orderId: string;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => OrderLineDto)
  lines: OrderLineDto[];

  @IsEmail()
  email: string;
}

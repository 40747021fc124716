import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

/** Body of `POST /orders/:key/signals/delivered`, validated by Nest's `ValidationPipe`. */
export class DeliveryConfirmationDto {
  /** Who took the parcel. */
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  receivedBy: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

/** Payload of the `delivered` signal: the confirmation plus when the shop received it. */
export interface DeliveredSignal {
  receivedBy: string;
  note: string | null;
  confirmedAt: Date;
}

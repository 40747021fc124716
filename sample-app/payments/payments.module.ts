import { Module } from '@nestjs/common';
import { PaymentsService } from './payments.service.js';

/** Card payments. */
@Module({ providers: [PaymentsService], exports: [PaymentsService] })
export class PaymentsModule {}

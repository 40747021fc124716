import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { DeliveryReminderService } from './delivery-reminder.service.js';
import { DeliveryService } from './delivery.service.js';

/** Delivery confirmations and the reminders sent until one arrives. */
@Module({
  imports: [NotificationsModule],
  providers: [DeliveryService, DeliveryReminderService],
  exports: [DeliveryService, DeliveryReminderService],
})
export class DeliveryModule {}

import { Injectable } from '@nestjs/common';
import { Repeat } from '@chronoforge/nestjs';
import { NotificationService, type SentEmail } from '../notifications/notification.service.js';
import { DeliveryService } from './delivery.service.js';

/** Arguments of {@link DeliveryReminderService.remind}, built by the workflow from durable data. */
export interface ReminderRequest {
  /** Run key, under which {@link DeliveryService} records the confirmation. */
  runKey: string;
  orderId: string;
  email: string;
  /** Stop reminding at this time even without a confirmation (stored by a durable step). */
  remindUntil: Date;
}

/**
 * Asks the customer whether their parcel arrived, on a durable schedule (`@Repeat`), until the
 * delivery is confirmed or the delivery window closes. The demo ticks every 500 ms; a shop would
 * use `'1d'`. Each tick is the step `durably_repeat$deliveryReminder$<epoch-ms>`: it runs once,
 * and a tick missed while the app was down is fast-forwarded rather than sent late.
 */
@Injectable()
export class DeliveryReminderService {
  constructor(
    private readonly delivery: DeliveryService,
    private readonly notifications: NotificationService,
  ) {}

  /** One reminder; `scheduledAt` is the tick's slot on the grid, passed by ChronoForge. */
  @Repeat('500ms', { name: 'deliveryReminder', till: 'isSettled' })
  async remind(request: ReminderRequest, scheduledAt = new Date()): Promise<SentEmail> {
    return this.notifications.sendDeliveryReminder(request.email, request.orderId, scheduledAt);
  }

  /**
   * The `till` condition, checked before every tick (never again once the repeat completed, so
   * replays skip it): the delivery was confirmed, or the window closed.
   */
  isSettled(request: ReminderRequest): boolean {
    return (
      this.delivery.isDelivered(request.runKey) ||
      Date.now() >= new Date(request.remindUntil).getTime()
    );
  }
}

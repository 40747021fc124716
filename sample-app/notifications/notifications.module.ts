import { Module } from '@nestjs/common';
import { NotificationService } from './notification.service.js';

/** Customer e-mails. */
@Module({ providers: [NotificationService], exports: [NotificationService] })
export class NotificationsModule {}

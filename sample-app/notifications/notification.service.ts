import { Injectable, Logger } from '@nestjs/common';

/** An e-mail the shop sent. */
export interface SentEmail {
  messageId: string;
  to: string;
  subject: string;
}

/**
 * Sends customer e-mails (here: logs them and keeps an in-memory outbox). Plain service without
 * ChronoForge decorators: the workflow makes its calls durable with `ctx.step()`, and reminders run
 * as the ticks of a `@Repeat`. Message ids are deterministic, as a mail API's idempotency key.
 */
@Injectable()
export class NotificationService {
  private readonly logger = new Logger(NotificationService.name);
  /** Every e-mail sent by this process, oldest first. */
  readonly outbox: SentEmail[] = [];

  /** Tells the customer their order is on its way. */
  async sendOrderShipped(to: string, orderId: string, trackingNumber: string): Promise<SentEmail> {
    return this.send({
      messageId: `msg_${orderId}_shipped`,
      to,
      subject: `Order ${orderId} has shipped (tracking ${trackingNumber})`,
    });
  }

  /** Asks whether the parcel arrived; one message per reminder slot. */
  async sendDeliveryReminder(to: string, orderId: string, slot: Date): Promise<SentEmail> {
    return this.send({
      messageId: `msg_${orderId}_reminder_${slot.getTime()}`,
      to,
      subject: `Has order ${orderId} arrived? Let us know when it did`,
    });
  }

  /** Thanks the customer once the delivery was confirmed. */
  async sendOrderDelivered(to: string, orderId: string, receivedBy: string): Promise<SentEmail> {
    return this.send({
      messageId: `msg_${orderId}_delivered`,
      to,
      subject: `Order ${orderId} was delivered to ${receivedBy}`,
    });
  }

  private send(email: SentEmail): SentEmail {
    this.outbox.push(email);
    this.logger.log(`E-mail to ${email.to}: ${email.subject}`);
    return email;
  }
}

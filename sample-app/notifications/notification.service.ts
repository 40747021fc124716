import { Injectable, Logger } from '@nestjs/common';

/** An e-mail the shop sent. */
export interface SentEmail {
  messageId: string;
  to: string;
  subject: string;
}

/**
 * Sends customer e-mails (here: logs them and keeps an in-memory outbox). Plain service without
 * ChronoForge decorators; the workflow makes the call durable with `ctx.step()`.
 */
@Injectable()
export class NotificationService {
  private readonly logger = new Logger(NotificationService.name);
  /** Every e-mail sent by this process, oldest first. */
  readonly outbox: SentEmail[] = [];

  /** Tells the customer their order is on its way. */
  async sendOrderShipped(to: string, orderId: string, trackingNumber: string): Promise<SentEmail> {
    const email: SentEmail = {
      messageId: `msg_${orderId}_shipped`,
      to,
      subject: `Order ${orderId} has shipped (tracking ${trackingNumber})`,
    };
    this.outbox.push(email);
    this.logger.log(`E-mail to ${to}: ${email.subject}`);
    return email;
  }
}

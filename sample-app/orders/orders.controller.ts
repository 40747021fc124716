import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  Sse,
  ValidationPipe,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { type RunUpdate, WorkflowClient, type WorkflowState } from '@chronoforge/nestjs';
import { DeliveryService } from '../delivery/delivery.service.js';
import { type DeliveredSignal, DeliveryConfirmationDto } from './dto/delivery-confirmation.dto.js';
import { FulfilOrderDto } from './dto/fulfil-order.dto.js';
import {
  type OrderRunRef,
  type OrderRunSummaryView,
  type OrderRunView,
  toDetailView,
  toSummaryView,
} from './order.presenter.js';
import { DELIVERED_SIGNAL, FULFIL_ORDER_WORKFLOW, OrderWorkflow } from './order.workflow.js';

/** Only runs of the order workflow are visible through this controller. */
const ORDERS = { workflow: FULFIL_ORDER_WORKFLOW };
/** Most child runs `GET /orders/:key` lists (an order has at most 50 lines). */
const MAX_CHILDREN = 500;

/** Run key of an order: one run per order id, so re-posting an order is idempotent. */
export function orderKey(body: unknown): string {
  const orderId = (body as { orderId?: unknown } | null)?.orderId;
  return `order-${typeof orderId === 'string' ? orderId : ''}`;
}

/**
 * HTTP API over the `orders.fulfil` workflow. The body is validated by ChronoForge against
 * {@link FulfilOrderDto} at `start()`; errors become HTTP statuses in `ChronoForgeExceptionFilter`.
 * The customer's delivery confirmation arrives as the `delivered` signal.
 */
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly client: WorkflowClient,
    private readonly delivery: DeliveryService,
  ) {}

  /** Starts (or finds) the run of an order; 202 because fulfilment continues in the background. */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(@Body() body: FulfilOrderDto): Promise<OrderRunRef> {
    const handle = await this.client.start(OrderWorkflow, 'fulfil', {
      key: orderKey(body),
      input: body,
    });
    return { key: handle.key, id: handle.id, state: await handle.status() };
  }

  /** Order runs, newest first; `?state=stalled,failed&limit=20&before=<id>`. */
  @Get()
  async list(
    @Query('state') state?: string | string[],
    @Query('limit') limit?: string,
    @Query('before') before?: string,
  ): Promise<OrderRunSummaryView[]> {
    const states = state === undefined ? undefined : [state].flat().flatMap((s) => s.split(','));
    const runs = await this.client.list({
      ...ORDERS,
      state: states as WorkflowState[] | undefined,
      limit: limit === undefined ? undefined : Number(limit),
      before,
    });
    return runs.map(toSummaryView);
  }

  /** The run with its result, steps, error log and child runs. */
  @Get(':key')
  async get(@Param('key') key: string): Promise<OrderRunView> {
    const run = await this.client.get(key, ORDERS);
    const children = await this.client.list({ keyPrefix: `${key}$`, limit: MAX_CHILDREN });
    return toDetailView(run, children);
  }

  /**
   * The order's progress as Server-Sent Events (`client.watch`): each completed durable call
   * (`step`), event and state change, until the run ends. `curl -N …/orders/<key>/progress`. An
   * unknown key answers 404 before the stream opens.
   */
  @Sse(':key/progress')
  async progress(@Param('key') key: string): Promise<Observable<RunUpdate>> {
    await this.client.handle(key, ORDERS);
    return this.client.watch(key, ORDERS);
  }

  /**
   * Confirms the delivery: records it (the reminders' `till` reads it) and sends the `delivered`
   * signal with the body; 404 for an unknown order, 409 once the run finished.
   */
  @Post(':key/signals/delivered')
  @HttpCode(HttpStatus.ACCEPTED)
  async delivered(
    @Param('key') key: string,
    @Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }))
    body: DeliveryConfirmationDto,
  ): Promise<OrderRunRef> {
    const recorded = this.delivery.confirm(key);
    const payload: DeliveredSignal = {
      receivedBy: body.receivedBy,
      note: body.note ?? null,
      confirmedAt: new Date(),
    };
    try {
      await this.client.signal(key, DELIVERED_SIGNAL, payload, ORDERS);
    } catch (err) {
      if (recorded) this.delivery.withdraw(key);
      throw err;
    }
    return this.ref(key);
  }

  /** Resumes a `stalled` or `failed` run with fresh retry budgets. */
  @Post(':key/retry')
  @HttpCode(HttpStatus.ACCEPTED)
  async retry(@Param('key') key: string): Promise<OrderRunRef> {
    await this.client.retry(key, ORDERS);
    return this.ref(key);
  }

  /** Cancels an `idle`, `running` or `stalled` run. */
  @Post(':key/cancel')
  @HttpCode(HttpStatus.OK)
  async cancel(@Param('key') key: string): Promise<OrderRunRef> {
    await this.client.cancel(key, ORDERS);
    return this.ref(key);
  }

  private async ref(key: string): Promise<OrderRunRef> {
    const handle = await this.client.handle(key, ORDERS);
    return { key, id: handle.id, state: await handle.status() };
  }
}

import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { WorkflowClient, type WorkflowState } from '../../lib/index.js';
import { FulfilOrderDto } from './dto/fulfil-order.dto.js';
import {
  type OrderRunRef,
  type OrderRunSummaryView,
  type OrderRunView,
  toDetailView,
  toSummaryView,
} from './order.presenter.js';
import { FULFIL_ORDER_WORKFLOW, OrderWorkflow } from './order.workflow.js';

/** Only runs of the order workflow are visible through this controller. */
const ORDERS = { workflow: FULFIL_ORDER_WORKFLOW };

/** Run key of an order: one run per order id, so re-posting an order is idempotent. */
export function orderKey(body: unknown): string {
  const orderId = (body as { orderId?: unknown } | null)?.orderId;
  return `order-${typeof orderId === 'string' ? orderId : ''}`;
}

/**
 * HTTP API over the `orders.fulfil` workflow. The body is validated by ChronoForge against
 * {@link FulfilOrderDto} at `start()`; errors become HTTP statuses in `ChronoForgeExceptionFilter`.
 */
@Controller('orders')
export class OrdersController {
  constructor(private readonly client: WorkflowClient) {}

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

  /** The run with its result, steps and error log. */
  @Get(':key')
  async get(@Param('key') key: string): Promise<OrderRunView> {
    return toDetailView(await this.client.get(key, ORDERS));
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

import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  type INestApplication,
  Module,
  type Provider,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  Branch,
  type ChronoForgeDashboardOptions,
  ChronoForgeDashboardModule,
  ChronoForgeModule,
  Repeat,
  RetryPolicy,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { type TestAppOptions, testModuleOptions } from '../support/app.js';

/** Header the test guard checks. */
export const TOKEN_HEADER = 'x-dashboard-token';
/** The token the test guard accepts. */
export const TOKEN = 'let-me-in';

/** Switches of the demo workflows. */
@Injectable()
export class DemoProbe {
  cardDeclined = true;
  readonly ticks = new Map<string, number>();
}

/** Lets a request in when it carries the token header. */
@Injectable()
export class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined> }>();
    return req.headers[TOKEN_HEADER] === TOKEN;
  }
}

/** Lets anyone read (GET) and only requests with the token header act (POST). */
@Injectable()
export class ViewerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context
      .switchToHttp()
      .getRequest<{ method: string; headers: Record<string, string | undefined> }>();
    return req.method === 'GET' || req.headers[TOKEN_HEADER] === TOKEN;
  }
}

/** Ticks every 100 ms from 10 s ago: the expired ticks collapse into one fast-forward row. */
@Injectable()
export class Reminders {
  constructor(private readonly probe: DemoProbe) {}

  done(key: string): boolean {
    return (this.probe.ticks.get(key) ?? 0) >= 3;
  }

  @Repeat('100ms', { till: 'done', timeout: '1s', startAt: new Date(Date.now() - 10_000) })
  async remind(key: string, _scheduledAt = new Date()): Promise<void> {
    this.probe.ticks.set(key, (this.probe.ticks.get(key) ?? 0) + 1);
  }
}

/** The demo workflows the browser test creates runs of. */
@Injectable()
export class DemoWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly probe: DemoProbe,
    private readonly reminders: Reminders,
  ) {}

  @Workflow('demo.ship')
  async ship(input: { orderId: string }): Promise<{ tracking: string }> {
    await this.ctx.step('reserve', async () => `res_${input.orderId}`);
    await this.ctx.sleep('50ms', 'coolOff');
    this.ctx.state.set('progress', 'shipping');
    return this.ctx.step('ship', async () => ({ tracking: `TRK-${input.orderId}` }));
  }

  @Workflow('demo.charge')
  async charge(input: { orderId: string; cents: number }): Promise<string> {
    const retry = new RetryPolicy({ maxAttempts: 1 });
    return this.ctx.step(
      'charge',
      async () => {
        if (this.probe.cardDeclined) throw new Error(`Card declined for ${input.orderId}`);
        return `ch_${input.orderId}`;
      },
      { retry },
    );
  }

  @Workflow('demo.fanout')
  async fanout(input: { lines: number }): Promise<string> {
    await this.lines(input);
    await this.ctx.merge('lines', { minInterval: '50ms', maxInterval: '200ms' });
    return 'all lines packed';
  }

  @Branch()
  async lines(input: { lines: number }): Promise<void> {
    const ids = Array.from({ length: input.lines }, (_, i) => i + 1);
    await this.ctx.spawnEach('line', ids, (n) => ({ workflow: 'demo.line', input: { n } }), {
      of: 2,
    });
  }

  @Workflow('demo.line')
  async line(input: { n: number }): Promise<number> {
    return this.ctx.step('pack', async () => input.n);
  }

  @Workflow('demo.remind')
  async remind(): Promise<string> {
    await this.ctx.waitUntil('ready', () => true, { checkEvery: '50ms' });
    await this.reminders.remind(this.ctx.key);
    return 'reminded';
  }

  @Workflow('demo.waiter')
  async waiter(): Promise<unknown> {
    return this.ctx.waitForSignal('approved');
  }
}

/** The HTTP platform of a test app. */
export type HttpPlatform = 'express' | 'fastify';

/** Variations of the test app. */
export interface DashboardAppOptions {
  /** Trust `X-Forwarded-*` headers (Express `trust proxy`, Fastify `trustProxy`). */
  trustProxy?: boolean;
  /** More dashboards to mount (with their own path and guard). */
  extra?: ChronoForgeDashboardOptions[];
  /** Runs on the app before it listens (middleware, hooks). */
  configure?: (app: INestApplication) => void;
  /** More providers (workflows) beside the demo ones. */
  providers?: Provider[];
  /** Module options over the test defaults (e.g. `limits`). */
  options?: TestAppOptions['options'];
}

/**
 * An HTTP app with the demo workflows, the dashboard behind {@link TokenGuard} at `/ops/cf`
 * (under the global prefix `api`), and a second dashboard without a guard at `/chronoforge`, on
 * Express (Nest's default) or Fastify.
 */
export async function bootDashboardApp(
  schema: string,
  queueName: string,
  platform: HttpPlatform = 'express',
  opts: DashboardAppOptions = {},
): Promise<INestApplication> {
  @Module({
    imports: [
      ChronoForgeModule.forRoot(testModuleOptions({ schema, queueName, options: opts.options })),
      ChronoForgeDashboardModule.forRoot({ path: '/ops/cf', guard: TokenGuard, pageSize: 5 }),
      ChronoForgeDashboardModule.forRoot(),
      ...(opts.extra ?? []).map((o) => ChronoForgeDashboardModule.forRoot(o)),
    ],
    providers: [
      DemoProbe,
      Reminders,
      DemoWorkflows,
      TokenGuard,
      ViewerGuard,
      ...(opts.providers ?? []),
    ],
  })
  class DashboardTestModule {}
  const options = { logger: ['error' as const, 'warn' as const] };
  const app =
    platform === 'fastify'
      ? await NestFactory.create(
          DashboardTestModule,
          new FastifyAdapter({ trustProxy: opts.trustProxy === true }),
          options,
        )
      : await NestFactory.create<NestExpressApplication>(DashboardTestModule, options);
  if (platform === 'express' && opts.trustProxy)
    (app as NestExpressApplication).set('trust proxy', true);
  opts.configure?.(app);
  app.setGlobalPrefix('api');
  await app.listen(0, '127.0.0.1');
  return app;
}

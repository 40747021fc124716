import { Injectable } from '@nestjs/common';
import { ProxyTracerProvider, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * OpenTelemetry spans through `@opentelemetry/api`: one span per pass (`chronoforge.pass`) and one
 * per executed step (`chronoforge.step`). Without an SDK registered by the application these are
 * no-ops.
 *
 * @publicApi
 */
@Injectable()
export class ChronoForgeTracer {
  private get tracer() {
    return trace.getTracer('chronoforge');
  }

  /**
   * Whether an OpenTelemetry SDK is registered (spans are recorded): without one, the engine runs
   * its bodies without the span's context switch and wrappers (a no-op step span cost ~6 µs). Read
   * at each call: an application may register its SDK after the engine started.
   */
  get enabled(): boolean {
    const provider = trace.getTracerProvider();
    return (
      !(provider instanceof ProxyTracerProvider) ||
      provider.getDelegateTracer('chronoforge') !== undefined
    );
  }

  /** Runs `fn` inside a span named `name` with `attributes`; records errors on the span. */
  async span<T>(
    name: string,
    attributes: Record<string, string | number>,
    fn: (span: Span) => Promise<T>,
  ): Promise<T> {
    return this.tracer.startActiveSpan(name, { attributes }, async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
        throw err;
      } finally {
        span.end();
      }
    });
  }
}

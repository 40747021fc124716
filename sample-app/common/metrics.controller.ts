import { Controller, Get, Header } from '@nestjs/common';
import { ChronoForgeMetrics } from '@chronoforge/nestjs';

/**
 * `GET /metrics`: ChronoForge's Prometheus metrics in the text exposition format, for a Prometheus
 * scrape job. (An application with its own prom-client registry would serve
 * `Registry.merge([appRegistry, metrics.registry])` instead.)
 */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: ChronoForgeMetrics) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

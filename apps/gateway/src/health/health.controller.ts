import { Controller, Get, Header, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  type HealthIndicatorFunction,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { MetricsService } from '@switchboard/observability';
import type { Response } from 'express';
import { DrainState } from './drain-state';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { healthSchema } from '../openapi/response.schemas';

/** Readiness checks contributed by modules that own a dependency (database, Redis...). */
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
export type ReadinessCheck = (
  indicator: HealthIndicatorService,
) => Promise<Record<string, unknown>>;

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly drain: DrainState,
    private readonly metrics: MetricsService,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  /** Liveness: the process answers. Never depends on anything else. */
  @Get('health')
  @ApiDoc({ summary: 'Liveness', tag: 'health', public: true, response: healthSchema })
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Readiness: 503 while draining or while a configured dependency is down. */
  @Get('ready')
  @ApiDoc({
    summary: 'Readiness (503 while draining or a dependency is down)',
    tag: 'health',
    public: true,
    response: healthSchema,
  })
  async ready(@Res() res: Response): Promise<void> {
    const drain: HealthIndicatorFunction = () => {
      const i = this.indicator.check('lifecycle');
      return this.drain.draining ? i.down({ draining: true }) : i.up({ draining: false });
    };
    const deps = this.checks.map(
      (c): HealthIndicatorFunction =>
        () =>
          c(this.indicator) as never,
    );
    try {
      res.status(200).json(await this.health.check([drain, ...deps]));
    } catch (e) {
      // Terminus reports "down" as a 503 exception whose response is the details.
      if (e instanceof ServiceUnavailableException) res.status(503).json(e.getResponse());
      else throw e;
    }
  }

  @Get('metrics')
  @ApiDoc({
    summary: 'Prometheus metrics',
    tag: 'health',
    public: true,
    responseContentType: 'text/plain',
  })
  @Header('Cache-Control', 'no-store')
  async prometheus(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}

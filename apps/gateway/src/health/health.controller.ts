import {
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
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

/** Passive reachability of the database and cache (see health.providers.ts). */
export const DEPENDENCIES = Symbol('DEPENDENCIES');
export type Dependencies = () => { name: string; up: boolean }[];

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly drain: DrainState,
    private readonly metrics: MetricsService,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Liveness: the process answers. Never depends on anything else. */
  @Get('health')
  @ApiDoc({ summary: 'Liveness', tag: 'health', public: true, response: healthSchema })
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /**
   * Readiness = this task can take traffic: 200 once booted, 503 only while draining. A
   * database or cache outage is reported in the details (and the DependenciesDown metric)
   * but never fails the check: every task shares the dependency, so failing would make
   * the load balancer pull and ECS replace every task at once, turning a blip into an outage.
   */
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
    let body: Record<string, unknown>;
    try {
      body = { ...(await this.health.check([drain, ...deps])) };
    } catch (e) {
      // Terminus reports "down" as a 503 exception whose response is the details.
      if (!(e instanceof ServiceUnavailableException)) throw e;
      body = { ...(e.getResponse() as Record<string, unknown>) };
    }
    const draining = this.drain.draining;
    const degraded = Object.keys((body.error as Record<string, unknown> | undefined) ?? {});
    body.status = draining ? 'draining' : degraded.length > 0 ? 'degraded' : 'ok';
    res.status(draining ? 503 : 200).json(body);
  }

  /** Prometheus metrics; only here when METRICS_PORT is unset (else on that port alone). */
  @Get('metrics')
  @ApiDoc({
    summary: 'Prometheus metrics',
    tag: 'health',
    public: true,
    responseContentType: 'text/plain',
  })
  @Header('Cache-Control', 'no-store')
  async prometheus(@Res() res: Response): Promise<void> {
    if (this.config.http.metricsPort !== undefined) throw new NotFoundException();
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}

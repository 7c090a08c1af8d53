import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { EmfAccumulator, MetricsService, emfLine } from '@switchboard/observability';
import { StreamRegistry } from '../streaming/stream-registry.service';
import { DEPENDENCIES, type Dependencies } from './health.controller';

/**
 * Writes one CloudWatch EMF line per interval to stdout when EMF_METRICS is on;
 * ECS's awslogs driver ships it, CloudWatch extracts the metrics (ActiveStreams
 * drives the autoscaling policy).
 */
@Injectable()
export class EmfService implements OnModuleInit, OnApplicationShutdown {
  readonly acc = new EmfAccumulator();
  #timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: StreamRegistry,
    private readonly metrics: MetricsService,
    @Inject(DEPENDENCIES) private readonly dependencies: Dependencies,
  ) {}

  onModuleInit(): void {
    this.metrics.observeDependencies(this.dependencies);
    if (!this.config.metrics.emf) return;
    this.#timer = setInterval(() => this.flush(), this.config.metrics.emfIntervalMs);
    this.#timer.unref();
  }

  flush(): void {
    process.stdout.write(
      `${emfLine(
        process.env.SERVICE_NAME ?? 'switchboard',
        this.acc.drain(this.registry.size, this.dependencies().filter((d) => !d.up).length),
      )}\n`,
    );
  }

  onApplicationShutdown(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.flush();
  }
}

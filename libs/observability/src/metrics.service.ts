import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** resolution of the event-loop delay histogram (prom-client's default) */
const EVENT_LOOP_SAMPLE_MS = 10;

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30,
];

/** Prometheus metrics; one registry per app instance so tests can boot several. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly activeStreams = new Gauge({
    name: 'switchboard_active_streams',
    help: 'Chat streams currently open',
    registers: [this.registry],
  });

  #dependencies?: () => { name: string; up: boolean }[];

  /** 1 while the dependency is reachable as last observed by real traffic, else 0 */
  readonly dependencyUp: Gauge<'dependency'>;

  /** Where dependencyUp reads from at each scrape. */
  observeDependencies(probe: () => { name: string; up: boolean }[]): void {
    this.#dependencies = probe;
  }

  readonly httpRequests = new Counter({
    name: 'switchboard_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly ttft = new Histogram({
    name: 'switchboard_time_to_first_token_seconds',
    help: 'From request arrival to the first token written to the client',
    labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly upstreamTtft = new Histogram({
    name: 'switchboard_upstream_time_to_first_token_seconds',
    help: 'From the upstream call to its first token',
    labelNames: ['model', 'provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly gatewayAddedLatency = new Histogram({
    name: 'switchboard_gateway_added_latency_seconds',
    help: 'Time to first token through the gateway minus the upstream time to first token',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'switchboard_tokens_total',
    help: 'Tokens by direction (input, cached_input, output, reasoning) and model',
    labelNames: ['direction', 'model'] as const,
    registers: [this.registry],
  });

  readonly costMicros = new Counter({
    name: 'switchboard_cost_micro_usd_total',
    help: 'Cost of upstream calls in micro-dollars',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly chatOutcomes = new Counter({
    name: 'switchboard_chat_requests_total',
    help: 'Chat requests by outcome (complete, cancelled, error) and error code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });

  readonly admissionFailOpen = new Counter({
    name: 'switchboard_admission_fail_open_total',
    help: 'Requests admitted without a working check (rate_limit, request_claims, budget)',
    labelNames: ['check'] as const,
    registers: [this.registry],
  });

  constructor() {
    // nodejs_eventloop_lag_*: samples of the interval between timer ticks of this
    // resolution, so an idle loop reads about 10 ms; the delay is the excess over it
    collectDefaultMetrics({
      register: this.registry,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
    const probe = () => this.#dependencies?.() ?? [];
    this.dependencyUp = new Gauge({
      name: 'switchboard_dependency_up',
      help: 'Database / cache reachable (1) or not (0), as last observed by real traffic',
      labelNames: ['dependency'] as const,
      registers: [this.registry],
      collect() {
        for (const d of probe()) this.set({ dependency: d.name }, d.up ? 1 : 0);
      },
    });
  }
}

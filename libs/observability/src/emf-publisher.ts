/**
 * CloudWatch Embedded Metric Format: one JSON log line per interval that the
 * awslogs driver turns into metrics (namespace Switchboard), used by the ECS
 * autoscaling policy on open streams per task and by the alarms.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export interface EmfSample {
  ActiveStreams: number;
  Requests: number;
  Errors: number;
  TokensOut: number;
  CostMicros: number;
  /** database / cache unreachable as seen by this task (an alarm fires on the maximum) */
  DependenciesDown: number;
  /** p95-able raw values: EMF accepts arrays of values */
  TimeToFirstTokenMs: number[];
}

const UNITS: Record<keyof EmfSample, string> = {
  ActiveStreams: 'Count',
  Requests: 'Count',
  Errors: 'Count',
  TokensOut: 'Count',
  CostMicros: 'None',
  DependenciesDown: 'Count',
  TimeToFirstTokenMs: 'Milliseconds',
};

export function emfLine(service: string, sample: EmfSample, now = Date.now()): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: 'Switchboard',
          Dimensions: [['Service']],
          Metrics: (Object.keys(UNITS) as (keyof EmfSample)[]).map((name) => ({
            Name: name,
            Unit: UNITS[name],
          })),
        },
      ],
    },
    Service: service,
    ...sample,
  });
}

/** Accumulates counters between flushes; the TTFT sample is bounded. */
export class EmfAccumulator {
  #requests = 0;
  #errors = 0;
  #tokensOut = 0;
  #cost = 0;
  #ttft: number[] = [];

  request(): void {
    this.#requests++;
  }
  error(): void {
    this.#errors++;
  }
  tokensOut(n: number): void {
    this.#tokensOut += n;
  }
  cost(micros: number): void {
    this.#cost += micros;
  }
  ttft(ms: number): void {
    // EMF allows at most 100 values per metric per line.
    if (this.#ttft.length < 100) this.#ttft.push(Math.round(ms));
  }

  drain(activeStreams: number, dependenciesDown = 0): EmfSample {
    const s: EmfSample = {
      ActiveStreams: activeStreams,
      DependenciesDown: dependenciesDown,
      Requests: this.#requests,
      Errors: this.#errors,
      TokensOut: this.#tokensOut,
      CostMicros: this.#cost,
      TimeToFirstTokenMs: this.#ttft,
    };
    this.#requests = this.#errors = this.#tokensOut = this.#cost = 0;
    this.#ttft = [];
    return s;
  }
}

export declare const HOURS_PER_MONTH: number;
export declare const DAYS_PER_MONTH: number;

export interface Workload {
  usersPerDay: number;
  requestsPerUser: number;
  peakConcurrencyRatio: number;
  answerTokens: number;
  tokensPerSecond: number;
  thinkSeconds: number;
  activeHours: number;
  peakHours: number;
  requestKb: number;
  responseBytesPerToken: number;
  dbAcuSecondsPerRequest: number;
  cacheEcpuPerRequest: number;
  dbIoPerRequest: number;
  dbKbPerRequest: number;
  logKbPerRequest: number;
  imageStoreGb: number;
  utilization: number;
}

export interface BenchMeasurements {
  cpuMsPer1kTokens: number;
  rssPerStreamKiB: number;
  baseRssMiB: number;
  measuredAt?: string;
}

export interface StreamsPerTask {
  byCpu: number;
  byMemory: number;
  value: number;
  binds: 'cpu' | 'memory';
}

export interface LineItem {
  item: string;
  monthly: number;
  detail: string;
}

export interface StackPlan {
  region: string;
  pricesAsOf: string;
  peakStreams: number;
  streamsPerTask: StreamsPerTask;
  peakTasks: number;
  exceedsMaxTasks: boolean;
  maxTasks: number;
  averageTasks: number;
  taskCpu: number;
  taskMemory: number;
  requestsPerMonth: number;
  lines: LineItem[];
  total: number;
}

export declare function peakStreams(
  w: Pick<
    Workload,
    'usersPerDay' | 'peakConcurrencyRatio' | 'answerTokens' | 'tokensPerSecond' | 'thinkSeconds'
  >,
): { streamSeconds: number; activeUsers: number; streams: number };
export declare function tasksNeeded(
  streams: number,
  streamsPerTask: number,
  utilization: number,
  minTasks: number,
): number;
export declare function taskHourly(
  cpu: number,
  memoryMiB: number,
  vcpuHour: number,
  gbHour: number,
): number;
export declare function averageTasks(
  peakTasks: number,
  minTasks: number,
  peakHours: number,
): number;
export declare function strategySplit(
  tasks: number,
  base: number,
  onDemandWeight: number,
  spotWeight: number,
): { onDemand: number; spot: number };
export declare function benchMeasurements(results: unknown): BenchMeasurements;
export declare function streamsPerTask(
  task: { cpu: number; memoryMiB: number; tokensPerSecond: number; utilization: number },
  bench: BenchMeasurements,
): StreamsPerTask;
export declare function alarmCount(cacheEnabled: boolean): number;
export declare function planStack(
  workload: Workload,
  config: Record<string, unknown>,
  prices: unknown,
  bench: BenchMeasurements,
  opts?: { freeTier?: boolean },
): StackPlan;

export declare const HOURS_PER_MONTH: number;

export interface Workload {
  usersPerDay: number;
  peakConcurrencyRatio: number;
  answerTokens: number;
  tokensPerSecond: number;
  thinkSeconds: number;
  streamsPerTask: number;
  utilization: number;
  peakHours: number;
}

export interface StackPlan {
  peakStreams: number;
  peakTasks: number;
  exceedsMaxTasks: boolean;
  maxTasks: number;
  averageTasks: number;
  taskCpu: number;
  taskMemory: number;
  monthly: { onDemand: number; spot: number; configuredMix: number; fixed: number };
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
export declare function planStack(workload: Workload, config: Record<string, unknown>): StackPlan;

// Capacity model behind `npm run capacity`. Pure arithmetic, unit-tested in
// test/infra/ops-scripts.spec.ts.

export const HOURS_PER_MONTH = 730;

/**
 * Peak concurrent streams.
 *
 * At peak, `usersPerDay * peakConcurrencyRatio` users are active at once. An active user
 * alternates between watching an answer stream (answerTokens / tokensPerSecond seconds) and
 * reading/typing (thinkSeconds), so a stream is open for that fraction of the time.
 */
export function peakStreams({
  usersPerDay,
  peakConcurrencyRatio,
  answerTokens,
  tokensPerSecond,
  thinkSeconds,
}) {
  const streamSeconds = answerTokens / tokensPerSecond;
  const activeUsers = usersPerDay * peakConcurrencyRatio;
  return {
    streamSeconds,
    activeUsers,
    streams: activeUsers * (streamSeconds / (streamSeconds + thinkSeconds)),
  };
}

/** Tasks so that each runs at most `utilization` of its measured stream capacity, never below minTasks. */
export function tasksNeeded(streams, streamsPerTask, utilization, minTasks) {
  return Math.max(minTasks, Math.ceil(streams / (streamsPerTask * utilization)));
}

/** Hourly price of one task of `cpu` units (1024 = 1 vCPU) and `memoryMiB`. */
export function taskHourly(cpu, memoryMiB, vcpuHour, gbHour) {
  return (cpu / 1024) * vcpuHour + (memoryMiB / 1024) * gbHour;
}

/**
 * Average running tasks over a day: the peak count for `peakHours`, minTasks otherwise
 * (autoscaling follows the load).
 */
export function averageTasks(peakTasks, minTasks, peakHours) {
  return minTasks + (peakTasks - minTasks) * (peakHours / 24);
}

/** Split of `tasks` between on-demand and Spot under an ECS base + weight strategy. */
export function strategySplit(tasks, base, onDemandWeight, spotWeight) {
  const onBase = Math.min(base, tasks);
  const rest = tasks - onBase;
  const total = onDemandWeight + spotWeight;
  const onDemand = onBase + (total === 0 ? 0 : (rest * onDemandWeight) / total);
  return { onDemand, spot: tasks - onDemand };
}

function num(config, key) {
  const value = Number(config[key]);
  if (!Number.isFinite(value))
    throw new Error(`stack config ${key} is not a number: ${config[key]}`);
  return value;
}

/** Plan for one stack given the workload and the stack's resolved config (see lib/cli.mjs). */
export function planStack(workload, config) {
  const { streams } = peakStreams(workload);
  const minTasks = num(config, 'minTasks');
  const maxTasks = num(config, 'maxTasks');
  const peakTasks = tasksNeeded(streams, workload.streamsPerTask, workload.utilization, minTasks);
  const avgTasks = averageTasks(peakTasks, minTasks, workload.peakHours);
  const cpu = num(config, 'taskCpu');
  const memory = num(config, 'taskMemory');
  const onDemandHourly = taskHourly(
    cpu,
    memory,
    num(config, 'priceFargateVcpuHour'),
    num(config, 'priceFargateGbHour'),
  );
  const spotHourly = taskHourly(
    cpu,
    memory,
    num(config, 'priceSpotVcpuHour'),
    num(config, 'priceSpotGbHour'),
  );
  const split = strategySplit(
    avgTasks,
    num(config, 'onDemandBase'),
    num(config, 'onDemandWeight'),
    num(config, 'spotWeight'),
  );
  const fixed = num(config, 'priceFixedMonthly');
  const monthly = (tasks, hourly) => tasks * hourly * HOURS_PER_MONTH;
  return {
    peakStreams: streams,
    peakTasks,
    exceedsMaxTasks: peakTasks > maxTasks,
    maxTasks,
    averageTasks: avgTasks,
    taskCpu: cpu,
    taskMemory: memory,
    monthly: {
      onDemand: monthly(avgTasks, onDemandHourly) + fixed,
      spot: monthly(avgTasks, spotHourly) + fixed,
      configuredMix:
        monthly(split.onDemand, onDemandHourly) + monthly(split.spot, spotHourly) + fixed,
      fixed,
    },
  };
}

// Capacity and cost model behind `npm run capacity`. Pure arithmetic over: the workload
// (flags), the benchmark's measurements (bench/results/latest.json), the stack's resolved
// config (Pulumi.yaml + Pulumi.<stack>.yaml) and a dated price table (scripts/ops/prices.json).
// Unit-tested against hand-computed figures in test/infra/ops-scripts.spec.ts.

export const HOURS_PER_MONTH = 730;
export const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;
/** Planning never takes more than this share of a task's memory (the rest is headroom). */
const MEMORY_SAFETY = 1.5;

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

/** Tasks so that each runs at most `utilization` of its stream capacity, never below minTasks. */
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

/**
 * What the benchmark measured, from the results file `npm run bench` writes: gateway CPU per
 * 1k streamed tokens, RSS per open stream and the idle gateway's RSS.
 */
export function benchMeasurements(results) {
  const row = (name) => results.rows?.find((r) => r.name === name)?.gateway;
  const m = {
    cpuMsPer1kTokens: Number(results.gatewayCpu?.msPer1kStreamedTokens),
    rssPerStreamKiB: Number(row('RSS per open stream')),
    baseRssMiB: Number(row('gateway RSS before idle streams')),
    measuredAt: results.date,
  };
  for (const [k, v] of Object.entries(m))
    if (k !== 'measuredAt' && !(Number.isFinite(v) && v > 0))
      throw new Error(`bench results have no usable ${k}`);
  return m;
}

/**
 * Streams one task holds at `utilization`, by CPU (each stream burns cpuMsPer1kTokens per
 * 1000 tokens at tokensPerSecond) and by memory (idle RSS plus 1.5x RSS per stream); the
 * smaller binds.
 */
export function streamsPerTask({ cpu, memoryMiB, tokensPerSecond, utilization }, bench) {
  const vcpuPerStream = (tokensPerSecond * bench.cpuMsPer1kTokens) / 1000 / 1000;
  // floor with a hair of tolerance: 0.7 / 0.005 is 139.99999999999997 in binary floating point
  const floor = (x) => Math.floor(x + 1e-9);
  const byCpu = floor(((cpu / 1024) * utilization) / vcpuPerStream);
  const usableMiB = memoryMiB * utilization - bench.baseRssMiB;
  const byMemory = Math.max(0, floor(usableMiB / ((bench.rssPerStreamKiB * MEMORY_SAFETY) / 1024)));
  return {
    byCpu,
    byMemory,
    value: Math.min(byCpu, byMemory),
    binds: byCpu <= byMemory ? 'cpu' : 'memory',
  };
}

function num(config, key) {
  const value = Number(config[key]);
  if (!Number.isFinite(value))
    throw new Error(`stack config ${key} is not a number: ${config[key]}`);
  return value;
}

/** Alarms the Pulumi program creates (pulumi/monitoring.ts). */
export function alarmCount(cacheEnabled) {
  return 16 + (cacheEnabled ? 3 : 0);
}

/** EMF metrics per task dimension (libs/observability emf-publisher) + Container Insights estimate. */
const EMF_METRICS = 7;
const CONTAINER_INSIGHTS_METRICS = { disabled: 0, enabled: 12, enhanced: 30 };

/**
 * Monthly cost of one stack, line by line. Every line says what it counts; amounts are USD.
 * `workload` holds the flags, `config` the stack YAML, `prices` the table, `bench` the
 * measurements; `freeTier` subtracts the always-free CloudWatch and CloudFront allowances.
 */
export function planStack(workload, config, prices, bench, { freeTier = true } = {}) {
  const region = config['aws:region'];
  const p = prices.regions[region];
  if (!p) throw new Error(`no prices for region ${region} in the price table`);
  const g = prices.global;
  const arch = config.cpuArchitecture ?? 'X86_64';
  const cpu = num(config, 'taskCpu');
  const memory = num(config, 'taskMemory');
  const minTasks = num(config, 'minTasks');
  const maxTasks = num(config, 'maxTasks');

  // --- sizing --------------------------------------------------------------------------
  const demand = peakStreams(workload);
  const capacity = streamsPerTask(
    {
      cpu,
      memoryMiB: memory,
      tokensPerSecond: workload.tokensPerSecond,
      utilization: workload.utilization,
    },
    bench,
  );
  const perTask = Math.max(1, capacity.value);
  const peakTasks = Math.max(minTasks, Math.ceil(demand.streams / perTask));
  const avgTasks = averageTasks(peakTasks, minTasks, workload.peakHours);
  const split = strategySplit(
    avgTasks,
    num(config, 'onDemandBase'),
    num(config, 'onDemandWeight'),
    num(config, 'spotWeight'),
  );

  // --- traffic ---------------------------------------------------------------------------
  const requestsPerMonth = workload.usersPerDay * workload.requestsPerUser * DAYS_PER_MONTH;
  const activeHoursPerMonth = workload.activeHours * DAYS_PER_MONTH;
  const requestsPerActiveHour = requestsPerMonth / activeHoursPerMonth;
  const responseKb = (workload.answerTokens * workload.responseBytesPerToken) / 1000;
  const gbPerRequest = (workload.requestKb + responseKb) / 1e6;
  const trafficGb = requestsPerMonth * gbPerRequest;
  const logGb = (requestsPerMonth * (workload.logKbPerRequest + 1.5 + 0.5)) / 1e6;

  const lines = [];
  const add = (item, monthly, detail) => lines.push({ item, monthly, detail });

  // Fargate
  const onDemandHourly = taskHourly(cpu, memory, p.fargateVcpuHour[arch], p.fargateGbHour[arch]);
  const spotHourly = taskHourly(cpu, memory, p.spotVcpuHour[arch], p.spotGbHour[arch]);
  add(
    'Fargate on-demand',
    split.onDemand * onDemandHourly * HOURS_PER_MONTH,
    `${split.onDemand.toFixed(2)} avg tasks x $${onDemandHourly.toFixed(5)}/h (${cpu / 1024} vCPU, ${memory / 1024} GB, ${arch})`,
  );
  add(
    'Fargate Spot',
    split.spot * spotHourly * HOURS_PER_MONTH,
    `${split.spot.toFixed(2)} avg tasks x $${spotHourly.toFixed(5)}/h`,
  );

  // Network
  const publicTasks = config.taskNetworking === 'public';
  const azs = num(config, 'azCount');
  const nats = publicTasks ? 0 : config.natGatewayPerAz === true ? azs : 1;
  add(
    'Public IPv4 (task IPs, NAT EIPs)',
    ((publicTasks ? avgTasks : 0) + nats) * p.publicIpv4Hour * HOURS_PER_MONTH,
    `${publicTasks ? `${avgTasks.toFixed(2)} task IPs` : `${nats} NAT EIPs`} x $${p.publicIpv4Hour}/h`,
  );
  add(
    'NAT gateways',
    nats * p.natHour * HOURS_PER_MONTH + (nats > 0 ? (trafficGb + logGb) * p.natPerGb : 0),
    nats > 0
      ? `${nats} x $${p.natHour}/h + ${(trafficGb + logGb).toFixed(1)} GB processed`
      : 'none (tasks have public IPs)',
  );
  const endpoints = config.interfaceEndpoints === true ? 4 * azs : 0;
  add(
    'Interface endpoints',
    endpoints * p.interfaceEndpointHour * HOURS_PER_MONTH +
      (endpoints > 0 ? logGb * p.interfaceEndpointPerGb : 0),
    endpoints > 0 ? `${endpoints} endpoint-AZs x $${p.interfaceEndpointHour}/h` : 'none',
  );

  // ALB: one LCU = 25 new connections/s, 3000 active connections, or 1 GB/h (the max counts)
  const lcu = Math.max(
    requestsPerActiveHour / 3600 / 25,
    (requestsPerActiveHour * demand.streamSeconds) / 3600 / 3000,
    requestsPerActiveHour * gbPerRequest,
  );
  add(
    'ALB',
    p.albHour * HOURS_PER_MONTH + lcu * activeHoursPerMonth * p.albLcuHour,
    `$${p.albHour}/h + ${lcu.toFixed(3)} LCU over ${workload.activeHours} active h/day`,
  );

  // Aurora Serverless v2: min ACUs while awake (every instance), or the load if larger;
  // with a 0 minimum the cluster pauses outside the active hours.
  const dbMin = num(config, 'dbMinCapacity');
  const instances = num(config, 'dbInstances');
  const awakeHours = dbMin === 0 ? activeHoursPerMonth : HOURS_PER_MONTH;
  const floorAcu = Math.max(dbMin, 0.5);
  const loadAcuHours = (requestsPerMonth * workload.dbAcuSecondsPerRequest) / 3600;
  const acuHours = instances * Math.max(floorAcu * awakeHours, loadAcuHours);
  add(
    'Aurora ACUs',
    acuHours * p.auroraAcuHour,
    `${acuHours.toFixed(0)} ACU-h (${instances} instance(s), ${floorAcu} ACU floor, awake ${(awakeHours / DAYS_PER_MONTH).toFixed(0)} h/day)`,
  );
  const dbGb = 1 + (requestsPerMonth * workload.dbKbPerRequest) / 1e6;
  add(
    'Aurora storage and I/O',
    dbGb * p.auroraStorageGbMonth +
      ((requestsPerMonth * workload.dbIoPerRequest) / 1e6) * p.auroraPerMillionIo,
    `${dbGb.toFixed(1)} GB, ${((requestsPerMonth * workload.dbIoPerRequest) / 1e6).toFixed(1)} M I/Os`,
  );

  // ElastiCache Serverless (Valkey)
  if (config.cacheEnabled !== false) {
    const ecpuM = (requestsPerMonth * workload.cacheEcpuPerRequest) / 1e6;
    add(
      'Valkey serverless',
      p.valkeyMinGb * p.valkeyGbHour * HOURS_PER_MONTH + ecpuM * p.valkeyPerMillionEcpu,
      `${p.valkeyMinGb} GB minimum + ${ecpuM.toFixed(1)} M ECPUs`,
    );
  } else {
    add('Valkey serverless', 0, 'none (one task, in-process limits)');
  }

  // CloudFront and WAF
  const cfFreeGb = freeTier ? prices.freeTier.cloudfrontGb : 0;
  const cfFreeRequests = freeTier ? prices.freeTier.cloudfrontRequests : 0;
  const outGb = (requestsPerMonth * responseKb) / 1e6;
  const toOriginGb = (requestsPerMonth * workload.requestKb) / 1e6;
  add(
    'CloudFront',
    Math.max(0, outGb - cfFreeGb) * g.cloudfrontPerGbOut +
      (Math.max(0, requestsPerMonth - cfFreeRequests) / 1e4) * g.cloudfrontPer10kHttpsRequests +
      toOriginGb * g.cloudfrontPerGbToOrigin,
    `${(requestsPerMonth / 1e6).toFixed(2)} M requests, ${outGb.toFixed(1)} GB out${freeTier ? ' (after the always-free tier)' : ''}`,
  );
  const wafRules = 5 + (config.adminOpen === true ? 0 : 1);
  add(
    'WAF',
    g.wafWebAclMonth +
      wafRules * g.wafRuleMonth +
      (requestsPerMonth / 1e6) * g.wafPerMillionRequests,
    `web ACL + ${wafRules} rules + ${(requestsPerMonth / 1e6).toFixed(2)} M requests`,
  );

  // CloudWatch: logs (gateway, WAF, CloudFront), metrics, alarms, dashboard
  const free = freeTier
    ? prices.freeTier
    : { cloudwatchMetrics: 0, cloudwatchAlarms: 0, cloudwatchDashboards: 0, cloudwatchLogsGb: 0 };
  const metrics =
    EMF_METRICS + (CONTAINER_INSIGHTS_METRICS[config.containerInsights ?? 'enhanced'] ?? 0);
  const alarms = alarmCount(config.cacheEnabled !== false);
  const retainedGb = logGb * (num(config, 'logRetentionDays') / 30);
  add(
    'CloudWatch',
    Math.max(0, logGb - free.cloudwatchLogsGb) * p.logsIngestPerGb +
      retainedGb * p.logsStorePerGbMonth +
      Math.max(0, metrics - free.cloudwatchMetrics) * p.metricMonth +
      Math.max(0, alarms - free.cloudwatchAlarms) * p.alarmMonth +
      Math.max(0, 1 - free.cloudwatchDashboards) * p.dashboardMonth,
    `${logGb.toFixed(2)} GB logs, ${metrics} metrics, ${alarms} alarms, 1 dashboard${freeTier ? ' (after the always-free tier)' : ''}`,
  );

  const providerSecrets = Array.isArray(config.providerSecrets) ? config.providerSecrets.length : 0;
  const secrets = 3 + providerSecrets;
  add('Secrets Manager', secrets * p.secretMonth, `${secrets} secrets`);
  add(
    'ECR and S3',
    workload.imageStoreGb * p.ecrGbMonth + logGb * p.s3GbMonth,
    `${workload.imageStoreGb} GB images, ALB access logs`,
  );

  const total = lines.reduce((sum, l) => sum + l.monthly, 0);
  return {
    region,
    pricesAsOf: prices.asOf,
    peakStreams: demand.streams,
    streamsPerTask: capacity,
    peakTasks,
    exceedsMaxTasks: peakTasks > maxTasks,
    maxTasks,
    averageTasks: avgTasks,
    taskCpu: cpu,
    taskMemory: memory,
    requestsPerMonth,
    lines,
    total,
  };
}

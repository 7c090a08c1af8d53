import * as pulumi from '@pulumi/pulumi';

/** One entry of an ECS capacity provider strategy. */
export interface CapacityStrategyItem {
  capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
  base?: number;
  weight: number;
}

/** Prices read by `npm run capacity` (USD); parsed here too so a typo fails `pulumi preview`. */
export interface StackPrices {
  fargateVcpuHour: number;
  fargateGbHour: number;
  spotVcpuHour: number;
  spotGbHour: number;
  fixedMonthly: number;
}

/**
 * Typed view of the stack configuration. Defaults live only in Pulumi.yaml's `config:`
 * section (Pulumi applies them), so every key is required here.
 */
export interface StackConfig {
  stack: string;
  project: string;
  region: string;
  vpcCidr: string;
  azCount: number;
  natGatewayPerAz: boolean;
  containerPort: number;
  imageTag: string;
  taskCpu: number;
  taskMemory: number;
  minTasks: number;
  maxTasks: number;
  capacityStrategy: CapacityStrategyItem[];
  cpuTargetPercent: number;
  memoryTargetPercent: number;
  streamsPerTaskTarget: number;
  healthCheckGraceSeconds: number;
  shutdownDrainSeconds: number;
  logRetentionDays: number;
  albIdleTimeoutSeconds: number;
  domainName?: string;
  hostedZoneId?: string;
  alarmEmail?: string;
  wafRateLimit: number;
  dbMinCapacity: number;
  dbMaxCapacity: number;
  dbDeletionProtection: boolean;
  dbInstances: number;
  dbConnectionsThreshold: number;
  cloudfrontPriceClass: string;
  cacheMaxStorageGb: number;
  cacheMaxEcpuPerSecond: number;
  providerSecrets: string[];
  appEnvironment: Record<string, string>;
  ttftP95ThresholdMs: number;
  errorRateThresholdPercent: number;
  wafBlockedThreshold: number;
  prices: StackPrices;
}

/** Environment variable names that may be injected as secrets from Secrets Manager. */
const PROVIDER_SECRET_NAME = /^[A-Z][A-Z0-9_]*$/;

function positiveNumber(key: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new pulumi.RunError(`config ${key} must be a non-negative number, got "${raw}"`);
  }
  return value;
}

function optionalString(config: pulumi.Config, key: string): string | undefined {
  const value = config.get(key);
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Builds the capacity provider strategy. Entries with neither base nor weight are
 * dropped because ECS rejects a weight-0-only strategy.
 */
export function capacityStrategy(
  onDemandBase: number,
  onDemandWeight: number,
  spotWeight: number,
): CapacityStrategyItem[] {
  const items: CapacityStrategyItem[] = [];
  if (onDemandBase > 0 || onDemandWeight > 0) {
    items.push({ capacityProvider: 'FARGATE', base: onDemandBase, weight: onDemandWeight });
  }
  if (spotWeight > 0) {
    items.push({ capacityProvider: 'FARGATE_SPOT', weight: spotWeight });
  }
  if (items.length === 0 || items.every((item) => item.weight === 0)) {
    throw new pulumi.RunError('config: at least one of onDemandWeight / spotWeight must be > 0');
  }
  return items;
}

function parseEnvironment(entries: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      throw new pulumi.RunError(`config appEnvironment entry "${entry}" must be NAME=value`);
    }
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export function readStackConfig(): StackConfig {
  const config = new pulumi.Config();
  const aws = new pulumi.Config('aws');
  const providerSecrets = config.requireObject<string[]>('providerSecrets');
  for (const name of providerSecrets) {
    if (!PROVIDER_SECRET_NAME.test(name)) {
      throw new pulumi.RunError(
        `config providerSecrets entry "${name}" is not an environment variable name`,
      );
    }
  }
  const minTasks = config.requireNumber('minTasks');
  const maxTasks = config.requireNumber('maxTasks');
  if (maxTasks < minTasks) {
    throw new pulumi.RunError(`config maxTasks (${maxTasks}) must be >= minTasks (${minTasks})`);
  }
  const domainName = optionalString(config, 'domainName');
  const hostedZoneId = optionalString(config, 'hostedZoneId');
  if ((domainName === undefined) !== (hostedZoneId === undefined)) {
    throw new pulumi.RunError('config domainName and hostedZoneId must be set together');
  }
  const shutdownDrainSeconds = config.requireNumber('shutdownDrainSeconds');
  if (shutdownDrainSeconds >= 120) {
    // The task gets SIGKILL at stopTimeout (120 s), and Spot reclaims after a 2-minute notice.
    throw new pulumi.RunError('config shutdownDrainSeconds must be < 120');
  }
  return {
    stack: pulumi.getStack(),
    project: pulumi.getProject(),
    region: aws.require('region'),
    vpcCidr: config.require('vpcCidr'),
    azCount: config.requireNumber('azCount'),
    natGatewayPerAz: config.requireBoolean('natGatewayPerAz'),
    containerPort: config.requireNumber('containerPort'),
    imageTag: config.require('imageTag'),
    taskCpu: config.requireNumber('taskCpu'),
    taskMemory: config.requireNumber('taskMemory'),
    minTasks,
    maxTasks,
    capacityStrategy: capacityStrategy(
      config.requireNumber('onDemandBase'),
      config.requireNumber('onDemandWeight'),
      config.requireNumber('spotWeight'),
    ),
    cpuTargetPercent: config.requireNumber('cpuTargetPercent'),
    memoryTargetPercent: config.requireNumber('memoryTargetPercent'),
    streamsPerTaskTarget: config.requireNumber('streamsPerTaskTarget'),
    healthCheckGraceSeconds: config.requireNumber('healthCheckGraceSeconds'),
    shutdownDrainSeconds,
    logRetentionDays: config.requireNumber('logRetentionDays'),
    albIdleTimeoutSeconds: config.requireNumber('albIdleTimeoutSeconds'),
    domainName,
    hostedZoneId,
    alarmEmail: optionalString(config, 'alarmEmail'),
    wafRateLimit: config.requireNumber('wafRateLimit'),
    dbMinCapacity: positiveNumber('dbMinCapacity', config.require('dbMinCapacity')),
    dbMaxCapacity: positiveNumber('dbMaxCapacity', config.require('dbMaxCapacity')),
    dbDeletionProtection: config.requireBoolean('dbDeletionProtection'),
    dbInstances: config.requireNumber('dbInstances'),
    dbConnectionsThreshold: config.requireNumber('dbConnectionsThreshold'),
    cloudfrontPriceClass: config.require('cloudfrontPriceClass'),
    cacheMaxStorageGb: config.requireNumber('cacheMaxStorageGb'),
    cacheMaxEcpuPerSecond: config.requireNumber('cacheMaxEcpuPerSecond'),
    providerSecrets,
    appEnvironment: parseEnvironment(config.requireObject<string[]>('appEnvironment')),
    ttftP95ThresholdMs: config.requireNumber('ttftP95ThresholdMs'),
    errorRateThresholdPercent: config.requireNumber('errorRateThresholdPercent'),
    wafBlockedThreshold: config.requireNumber('wafBlockedThreshold'),
    prices: {
      fargateVcpuHour: positiveNumber(
        'priceFargateVcpuHour',
        config.require('priceFargateVcpuHour'),
      ),
      fargateGbHour: positiveNumber('priceFargateGbHour', config.require('priceFargateGbHour')),
      spotVcpuHour: positiveNumber('priceSpotVcpuHour', config.require('priceSpotVcpuHour')),
      spotGbHour: positiveNumber('priceSpotGbHour', config.require('priceSpotGbHour')),
      fixedMonthly: positiveNumber('priceFixedMonthly', config.require('priceFixedMonthly')),
    },
  };
}

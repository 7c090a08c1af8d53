import * as pulumi from '@pulumi/pulumi';

/** One entry of an ECS capacity provider strategy. */
export interface CapacityStrategyItem {
  capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
  base?: number;
  weight: number;
}

/** Where tasks run: private subnets behind NAT, or public subnets with a public IP (no NAT). */
export type TaskNetworking = 'private' | 'public';
export type CpuArchitecture = 'X86_64' | 'ARM64';
export type ContainerInsights = 'enhanced' | 'enabled' | 'disabled';

/** ECS sends SIGKILL this long after SIGTERM; equals the Fargate Spot reclaim notice. */
export const STOP_TIMEOUT_SECONDS = 120;
/** The gateway's SSE heartbeat (HEARTBEAT_SECONDS default); idle timeouts must exceed it. */
export const SSE_HEARTBEAT_SECONDS = 15;

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
  taskNetworking: TaskNetworking;
  interfaceEndpoints: boolean;
  /** OpenTelemetry traces through an ADOT collector sidecar to X-Ray */
  tracesEnabled: boolean;
  containerPort: number;
  metricsPort: number;
  cpuArchitecture: CpuArchitecture;
  containerInsights: ContainerInsights;
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
  deregistrationDelaySeconds: number;
  logRetentionDays: number;
  albIdleTimeoutSeconds: number;
  domainName?: string;
  hostedZoneId?: string;
  alarmEmail?: string;
  wafRateLimit: number;
  adminRateLimit: number;
  /** CIDRs allowed to reach /admin through WAF; empty with adminOpen = any address. */
  adminAllowedCidrs: string[];
  adminOpen: boolean;
  dbMinCapacity: number;
  dbAutoPauseSeconds: number;
  dbMaxCapacity: number;
  deletionProtection: boolean;
  dbInstances: number;
  dbConnectionsThreshold: number;
  cloudfrontPriceClass: string;
  cacheEnabled: boolean;
  cacheMaxStorageGb: number;
  cacheMaxEcpuPerSecond: number;
  providerSecrets: string[];
  appEnvironment: Record<string, string>;
  ttftP99ThresholdMs: number;
  errorRateThresholdPercent: number;
  wafBlockedThreshold: number;
  monthlyBudgetUsd: number;
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

function oneOf<T extends string>(config: pulumi.Config, key: string, allowed: readonly T[]): T {
  const value = config.require(key);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new pulumi.RunError(`config ${key} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** IPv4 CIDRs for the /admin allow-list (WAF IP sets take CIDR notation only). */
export function parseCidrs(key: string, entries: string[]): string[] {
  for (const entry of entries) {
    const m = CIDR.exec(entry);
    const valid = m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
    if (!valid) throw new pulumi.RunError(`config ${key} entry "${entry}" is not an IPv4 CIDR`);
  }
  return entries;
}

/**
 * The stop sequence only works in this order: the gateway finishes its streams (drain)
 * before the ALB cuts the remaining connections (deregistration delay), which happens
 * before ECS sends SIGKILL (stopTimeout). The ALB idle timeout must outlast the SSE
 * heartbeat or quiet streams get cut.
 */
export function checkTimeouts(t: {
  shutdownDrainSeconds: number;
  deregistrationDelaySeconds: number;
  albIdleTimeoutSeconds: number;
}): void {
  if (!(t.deregistrationDelaySeconds < STOP_TIMEOUT_SECONDS)) {
    throw new pulumi.RunError(
      `config deregistrationDelaySeconds (${t.deregistrationDelaySeconds}) must be < stopTimeout (${STOP_TIMEOUT_SECONDS})`,
    );
  }
  if (!(t.shutdownDrainSeconds < t.deregistrationDelaySeconds)) {
    throw new pulumi.RunError(
      `config shutdownDrainSeconds (${t.shutdownDrainSeconds}) must be < deregistrationDelaySeconds (${t.deregistrationDelaySeconds})`,
    );
  }
  if (!(t.albIdleTimeoutSeconds > SSE_HEARTBEAT_SECONDS)) {
    throw new pulumi.RunError(
      `config albIdleTimeoutSeconds (${t.albIdleTimeoutSeconds}) must exceed the ${SSE_HEARTBEAT_SECONDS} s SSE heartbeat`,
    );
  }
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
  const cacheEnabled = config.requireBoolean('cacheEnabled');
  if (!cacheEnabled && maxTasks > 1) {
    // Rate limits, budget holds and stream resume are shared through the cache; without
    // it each task keeps its own, which is only correct when there is one task.
    throw new pulumi.RunError('config cacheEnabled=false requires maxTasks = 1');
  }
  const domainName = optionalString(config, 'domainName');
  const hostedZoneId = optionalString(config, 'hostedZoneId');
  if ((domainName === undefined) !== (hostedZoneId === undefined)) {
    throw new pulumi.RunError('config domainName and hostedZoneId must be set together');
  }
  const timeouts = {
    shutdownDrainSeconds: config.requireNumber('shutdownDrainSeconds'),
    deregistrationDelaySeconds: config.requireNumber('deregistrationDelaySeconds'),
    albIdleTimeoutSeconds: config.requireNumber('albIdleTimeoutSeconds'),
  };
  checkTimeouts(timeouts);
  const containerPort = config.requireNumber('containerPort');
  const metricsPort = config.requireNumber('metricsPort');
  if (metricsPort === containerPort) {
    throw new pulumi.RunError('config metricsPort must differ from containerPort');
  }
  const dbMinCapacity = positiveNumber('dbMinCapacity', config.require('dbMinCapacity'));
  const dbAutoPauseSeconds = config.requireNumber('dbAutoPauseSeconds');
  if (dbMinCapacity === 0 && (dbAutoPauseSeconds < 300 || dbAutoPauseSeconds > 86400)) {
    // The RDS API bounds SecondsUntilAutoPause to 300..86400.
    throw new pulumi.RunError('config dbAutoPauseSeconds must be within 300..86400');
  }
  return {
    stack: pulumi.getStack(),
    project: pulumi.getProject(),
    region: aws.require('region'),
    vpcCidr: config.require('vpcCidr'),
    azCount: config.requireNumber('azCount'),
    natGatewayPerAz: config.requireBoolean('natGatewayPerAz'),
    taskNetworking: oneOf(config, 'taskNetworking', ['private', 'public'] as const),
    interfaceEndpoints: config.requireBoolean('interfaceEndpoints'),
    tracesEnabled: config.requireBoolean('tracesEnabled'),
    containerPort,
    metricsPort,
    cpuArchitecture: oneOf(config, 'cpuArchitecture', ['X86_64', 'ARM64'] as const),
    containerInsights: oneOf(config, 'containerInsights', [
      'enhanced',
      'enabled',
      'disabled',
    ] as const),
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
    ...timeouts,
    logRetentionDays: config.requireNumber('logRetentionDays'),
    domainName,
    hostedZoneId,
    alarmEmail: optionalString(config, 'alarmEmail'),
    wafRateLimit: config.requireNumber('wafRateLimit'),
    adminRateLimit: config.requireNumber('adminRateLimit'),
    adminAllowedCidrs: parseCidrs(
      'adminAllowedCidrs',
      config.requireObject<string[]>('adminAllowedCidrs'),
    ),
    adminOpen: config.requireBoolean('adminOpen'),
    dbMinCapacity,
    dbAutoPauseSeconds,
    dbMaxCapacity: positiveNumber('dbMaxCapacity', config.require('dbMaxCapacity')),
    deletionProtection: config.requireBoolean('deletionProtection'),
    dbInstances: config.requireNumber('dbInstances'),
    dbConnectionsThreshold: config.requireNumber('dbConnectionsThreshold'),
    cloudfrontPriceClass: config.require('cloudfrontPriceClass'),
    cacheEnabled,
    cacheMaxStorageGb: config.requireNumber('cacheMaxStorageGb'),
    cacheMaxEcpuPerSecond: config.requireNumber('cacheMaxEcpuPerSecond'),
    providerSecrets,
    appEnvironment: parseEnvironment(config.requireObject<string[]>('appEnvironment')),
    ttftP99ThresholdMs: config.requireNumber('ttftP99ThresholdMs'),
    errorRateThresholdPercent: config.requireNumber('errorRateThresholdPercent'),
    wafBlockedThreshold: config.requireNumber('wafBlockedThreshold'),
    monthlyBudgetUsd: positiveNumber('monthlyBudgetUsd', config.require('monthlyBudgetUsd')),
  };
}

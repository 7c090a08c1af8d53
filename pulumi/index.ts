import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { readStackConfig } from './config';
import { Data } from './data';
import { Edge } from './edge';
import { albListenerPort, LoadBalancer } from './load-balancer';
import { Monitoring } from './monitoring';
import { Network } from './network';
import { Registry } from './registry';
import { Service } from './service';

const cfg = readStackConfig();
const name = `switchboard-${cfg.stack}`;
const tags = { Project: 'switchboard', Stack: cfg.stack, ManagedBy: 'pulumi' };
const domain =
  cfg.domainName && cfg.hostedZoneId
    ? { name: cfg.domainName, hostedZoneId: cfg.hostedZoneId }
    : undefined;
const usEast1 = new aws.Provider('us-east-1', { region: 'us-east-1', defaultTags: { tags } });

const network = new Network(name, {
  cidr: cfg.vpcCidr,
  azCount: cfg.azCount,
  natGatewayPerAz: cfg.natGatewayPerAz,
  taskNetworking: cfg.taskNetworking,
  interfaceEndpoints: cfg.interfaceEndpoints,
  region: cfg.region,
  containerPort: cfg.containerPort,
  albListenerPort: albListenerPort(domain),
  tags,
});

const registry = new Registry(name, { keepImages: 50, tags });

const data = new Data(name, {
  privateSubnetIds: network.privateSubnetIds,
  databaseSecurityGroupId: network.databaseSecurityGroupId,
  cacheSecurityGroupId: network.cacheSecurityGroupId,
  dbMinCapacity: cfg.dbMinCapacity,
  dbAutoPauseSeconds: cfg.dbAutoPauseSeconds,
  dbMaxCapacity: cfg.dbMaxCapacity,
  dbInstances: cfg.dbInstances,
  deletionProtection: cfg.deletionProtection,
  cacheEnabled: cfg.cacheEnabled,
  cacheMaxStorageGb: cfg.cacheMaxStorageGb,
  cacheMaxEcpuPerSecond: cfg.cacheMaxEcpuPerSecond,
  tags,
});

const loadBalancer = new LoadBalancer(name, {
  vpcId: network.vpcId,
  privateSubnetIds: network.privateSubnetIds,
  securityGroupId: network.albSecurityGroupId,
  containerPort: cfg.containerPort,
  idleTimeoutSeconds: cfg.albIdleTimeoutSeconds,
  deregistrationDelaySeconds: cfg.deregistrationDelaySeconds,
  deletionProtection: cfg.deletionProtection,
  domain,
  tags,
});

const metricsService = name;
const service = new Service(name, {
  region: cfg.region,
  subnetIds: network.taskSubnetIds,
  assignPublicIp: network.assignPublicIp,
  taskSecurityGroupId: network.taskSecurityGroupId,
  targetGroupArn: loadBalancer.targetGroupArn,
  listener: loadBalancer.listener,
  repositoryUrl: registry.repositoryUrl,
  imageTag: cfg.imageTag,
  containerPort: cfg.containerPort,
  metricsPort: cfg.metricsPort,
  cpuArchitecture: cfg.cpuArchitecture,
  containerInsights: cfg.containerInsights,
  tracesEnabled: cfg.tracesEnabled,
  cpu: cfg.taskCpu,
  memory: cfg.taskMemory,
  minTasks: cfg.minTasks,
  maxTasks: cfg.maxTasks,
  capacityStrategy: cfg.capacityStrategy,
  cpuTargetPercent: cfg.cpuTargetPercent,
  memoryTargetPercent: cfg.memoryTargetPercent,
  streamsPerTaskTarget: cfg.streamsPerTaskTarget,
  healthCheckGraceSeconds: cfg.healthCheckGraceSeconds,
  shutdownDrainSeconds: cfg.shutdownDrainSeconds,
  logRetentionDays: cfg.logRetentionDays,
  metricsService,
  databaseUrlSecretArn: data.databaseUrlSecretArn,
  redisUrl: data.redisUrl,
  bucketName: data.bucketName,
  bucketArn: data.bucketArn,
  providerSecrets: cfg.providerSecrets,
  appEnvironment: cfg.appEnvironment,
  secretRecoveryDays: cfg.deletionProtection ? 30 : 0,
  tags,
});

const edge = new Edge(name, {
  usEast1,
  vpcId: network.vpcId,
  albArn: loadBalancer.arn,
  albSecurityGroupId: network.albSecurityGroupId,
  albListenerPort: loadBalancer.listenerPort,
  originDomainName: loadBalancer.originDomainName,
  originProtocol: loadBalancer.originProtocol,
  wafRateLimit: cfg.wafRateLimit,
  adminRateLimit: cfg.adminRateLimit,
  adminAllowedCidrs: cfg.adminAllowedCidrs,
  adminOpen: cfg.adminOpen,
  logRetentionDays: cfg.logRetentionDays,
  priceClass: cfg.cloudfrontPriceClass,
  domain,
  tags,
});

const monitoring = new Monitoring(name, {
  region: cfg.region,
  usEast1,
  alarmEmail: cfg.alarmEmail,
  albArnSuffix: loadBalancer.arnSuffix,
  targetGroupArnSuffix: loadBalancer.targetGroupArnSuffix,
  clusterName: service.clusterName,
  clusterArn: service.clusterArn,
  serviceName: service.serviceName,
  serviceArn: service.serviceArn,
  metricsService,
  webAclName: edge.webAclName,
  distributionId: edge.distributionId,
  dbClusterIdentifier: data.clusterIdentifier,
  dbMaxCapacity: cfg.dbMaxCapacity,
  cache: data.cacheName
    ? {
        name: data.cacheName,
        maxStorageGb: cfg.cacheMaxStorageGb,
        maxEcpuPerSecond: cfg.cacheMaxEcpuPerSecond,
      }
    : undefined,
  ttftP99ThresholdMs: cfg.ttftP99ThresholdMs,
  errorRateThresholdPercent: cfg.errorRateThresholdPercent,
  wafBlockedThreshold: cfg.wafBlockedThreshold,
  dbConnectionsThreshold: cfg.dbConnectionsThreshold,
  monthlyBudgetUsd: cfg.monthlyBudgetUsd,
  tags,
});

export const serviceUrl = edge.url;
export const albDnsName = loadBalancer.dnsName;
export const ecrRepositoryUrl = registry.repositoryUrl;
export const logGroupName = service.logGroupName;
export const dashboardUrl = monitoring.dashboardUrl;
export const clusterName = service.clusterName;
export const serviceName = service.serviceName;
export const imageTag = cfg.imageTag;
export const adminApiKeySecretArn = service.adminKeySecretArn;
export const apiKeySecretArn = service.apiKeySecretArn;
export const wafLogGroupName = edge.wafLogGroupName;
export const cloudfrontLogGroupName = edge.accessLogGroupName;
export const providerSecretNames = pulumi.all(service.providerSecretNames);
export const alarmTopicArn = monitoring.alarmTopicArn;

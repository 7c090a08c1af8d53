import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { readStackConfig } from './config';
import { Data } from './data';
import { Edge } from './edge';
import { albListenerPort, LoadBalancer } from './load-balancer';
import { Monitoring } from './monitoring';
import { Network } from './network';
import { Registry } from './registry';
import { Service, STOP_TIMEOUT_SECONDS } from './service';

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
  dbMaxCapacity: cfg.dbMaxCapacity,
  dbInstances: cfg.dbInstances,
  dbDeletionProtection: cfg.dbDeletionProtection,
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
  deregistrationDelaySeconds: STOP_TIMEOUT_SECONDS,
  deletionProtection: cfg.dbDeletionProtection,
  domain,
  tags,
});

const metricsService = name;
const service = new Service(name, {
  region: cfg.region,
  privateSubnetIds: network.privateSubnetIds,
  taskSecurityGroupId: network.taskSecurityGroupId,
  targetGroupArn: loadBalancer.targetGroupArn,
  listener: loadBalancer.listener,
  repositoryUrl: registry.repositoryUrl,
  imageTag: cfg.imageTag,
  containerPort: cfg.containerPort,
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
  secretRecoveryDays: cfg.dbDeletionProtection ? 30 : 0,
  tags,
});

const edge = new Edge(name, {
  usEast1,
  albArn: loadBalancer.arn,
  originDomainName: loadBalancer.originDomainName,
  originProtocol: loadBalancer.originProtocol,
  wafRateLimit: cfg.wafRateLimit,
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
  serviceName: service.serviceName,
  metricsService,
  webAclName: edge.webAclName,
  distributionId: edge.distributionId,
  dbClusterIdentifier: data.clusterIdentifier,
  cacheName: data.cacheName,
  ttftP95ThresholdMs: cfg.ttftP95ThresholdMs,
  errorRateThresholdPercent: cfg.errorRateThresholdPercent,
  wafBlockedThreshold: cfg.wafBlockedThreshold,
  dbConnectionsThreshold: cfg.dbConnectionsThreshold,
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
export const providerSecretNames = pulumi.all(service.providerSecretNames);
export const alarmTopicArn = monitoring.alarmTopicArn;

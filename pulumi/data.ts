import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

export interface DataArgs {
  privateSubnetIds: pulumi.Input<string>[];
  databaseSecurityGroupId: pulumi.Input<string>;
  cacheSecurityGroupId: pulumi.Input<string>;
  dbMinCapacity: number;
  /** With dbMinCapacity 0: seconds without connections before the cluster pauses. */
  dbAutoPauseSeconds: number;
  dbMaxCapacity: number;
  dbInstances: number;
  deletionProtection: boolean;
  /** false: no cache cluster (one task keeps its limits in process). */
  cacheEnabled: boolean;
  cacheMaxStorageGb: number;
  cacheMaxEcpuPerSecond: number;
  tags: Record<string, string>;
}

const DB_NAME = 'switchboard';
const DB_USER = 'switchboard';
/**
 * Aurora PostgreSQL 16 ships the `vector` extension; migrations run CREATE EXTENSION.
 * Major only: RDS picks the default minor, auto minor upgrades keep it current, and the
 * provider compares against engineVersionActual, so a minor upgrade is no diff.
 */
export const AURORA_POSTGRES_MAJOR = '16';

/**
 * Scale-out state: Aurora Serverless v2 (DATABASE_URL), ElastiCache Serverless Valkey
 * (REDIS_URL) and the uploads bucket (BLOB_STORE).
 */
export class Data extends pulumi.ComponentResource {
  readonly databaseUrlSecretArn: pulumi.Output<string>;
  readonly clusterIdentifier: pulumi.Output<string>;
  readonly redisUrl?: pulumi.Output<string>;
  readonly cacheName?: pulumi.Output<string>;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;

  constructor(name: string, args: DataArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:data:Data', name, {}, opts);
    const parent = { parent: this };

    // --- Aurora Serverless v2 ------------------------------------------------
    const subnets = new aws.rds.SubnetGroup(
      `${name}-db-subnets`,
      { subnetIds: args.privateSubnetIds, tags: args.tags },
      parent,
    );
    // A Pulumi resource, generated once and kept in state (encrypted): the same value on
    // every run, so nothing needs ignoreChanges. Alphanumeric so it is URL-safe inside
    // DATABASE_URL. Not RDS-managed: RDS rotates its managed secret weekly, and a task
    // holding the old value in its environment would lose the database at the next
    // connection.
    const password = new random.RandomPassword(
      `${name}-db-password`,
      { length: 40, special: false },
      parent,
    ).result;
    const cluster = new aws.rds.Cluster(
      `${name}-db`,
      {
        engine: 'aurora-postgresql',
        engineMode: 'provisioned',
        engineVersion: AURORA_POSTGRES_MAJOR,
        allowMajorVersionUpgrade: false,
        databaseName: DB_NAME,
        masterUsername: DB_USER,
        masterPassword: password,
        dbSubnetGroupName: subnets.name,
        vpcSecurityGroupIds: [args.databaseSecurityGroupId],
        storageEncrypted: true,
        serverlessv2ScalingConfiguration: {
          minCapacity: args.dbMinCapacity,
          maxCapacity: args.dbMaxCapacity,
          // Only meaningful at 0 ACU minimum: the cluster pauses after this long without
          // connections (the gateway closes idle pool connections so it can).
          secondsUntilAutoPause: args.dbMinCapacity === 0 ? args.dbAutoPauseSeconds : undefined,
        },
        backupRetentionPeriod: args.deletionProtection ? 14 : 1,
        deletionProtection: args.deletionProtection,
        skipFinalSnapshot: !args.deletionProtection,
        finalSnapshotIdentifier: args.deletionProtection ? `${name}-db-final` : undefined,
        copyTagsToSnapshot: true,
        enabledCloudwatchLogsExports: ['postgresql'],
        tags: args.tags,
      },
      parent,
    );
    for (let i = 0; i < args.dbInstances; i++) {
      new aws.rds.ClusterInstance(
        `${name}-db-${i}`,
        {
          clusterIdentifier: cluster.id,
          instanceClass: 'db.serverless',
          engine: 'aurora-postgresql',
          engineVersion: cluster.engineVersion,
          publiclyAccessible: false,
          dbSubnetGroupName: subnets.name,
          performanceInsightsEnabled: true,
          tags: args.tags,
        },
        parent,
      );
    }
    const dbSecret = new aws.secretsmanager.Secret(
      `${name}-database-url`,
      {
        description: 'DATABASE_URL for the Switchboard gateway',
        recoveryWindowInDays: args.deletionProtection ? 30 : 0,
        tags: args.tags,
      },
      parent,
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-database-url`,
      {
        secretId: dbSecret.id,
        // verify-full: the gateway checks the server certificate against the RDS CA bundle
        // shipped in the image, and the host name against the certificate.
        secretString: pulumi.secret(
          pulumi.interpolate`postgres://${DB_USER}:${password}@${cluster.endpoint}:5432/${DB_NAME}?sslmode=verify-full`,
        ),
      },
      parent,
    );

    // --- ElastiCache Serverless (Valkey): TLS and encryption at rest are always on ---
    if (args.cacheEnabled) {
      const cache = new aws.elasticache.ServerlessCache(
        `${name}-cache`,
        {
          engine: 'valkey',
          majorEngineVersion: '8',
          description: 'Switchboard rate limits, budget holds, kill switch, stream resume',
          subnetIds: args.privateSubnetIds,
          securityGroupIds: [args.cacheSecurityGroupId],
          cacheUsageLimits: {
            dataStorage: { maximum: args.cacheMaxStorageGb, unit: 'GB' },
            ecpuPerSeconds: [{ maximum: args.cacheMaxEcpuPerSecond }],
          },
          snapshotRetentionLimit: 1,
          tags: args.tags,
        },
        parent,
      );
      this.cacheName = cache.name;
      this.redisUrl = cache.endpoints.apply((endpoints) => {
        const primary = endpoints[0];
        return `rediss://${primary.address}:${primary.port}`;
      });
    }

    // --- Uploads bucket --------------------------------------------------------
    const bucket = new aws.s3.Bucket(
      `${name}-uploads`,
      { forceDestroy: !args.deletionProtection, tags: args.tags },
      parent,
    );
    new aws.s3.BucketPublicAccessBlock(
      `${name}-uploads`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-uploads`,
      { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-uploads`,
      {
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms' },
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    new aws.s3.BucketVersioning(
      `${name}-uploads`,
      { bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-uploads`,
      {
        bucket: bucket.id,
        rules: [
          {
            id: 'expire-old-versions',
            status: 'Enabled',
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: 30 },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ],
      },
      parent,
    );
    new aws.s3.BucketPolicy(
      `${name}-uploads`,
      { bucket: bucket.id, policy: denyInsecureTransport(bucket.arn) },
      parent,
    );

    this.databaseUrlSecretArn = dbSecret.arn;
    this.clusterIdentifier = cluster.clusterIdentifier;
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.registerOutputs({
      clusterIdentifier: this.clusterIdentifier,
      bucketName: this.bucketName,
    });
  }
}

/** Bucket policy that refuses plain-HTTP access. */
export function denyInsecureTransport(bucketArn: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  });
}

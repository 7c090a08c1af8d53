import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface DataArgs {
  privateSubnetIds: pulumi.Input<string>[];
  databaseSecurityGroupId: pulumi.Input<string>;
  cacheSecurityGroupId: pulumi.Input<string>;
  dbMinCapacity: number;
  dbMaxCapacity: number;
  dbInstances: number;
  dbDeletionProtection: boolean;
  cacheMaxStorageGb: number;
  cacheMaxEcpuPerSecond: number;
  tags: Record<string, string>;
}

const DB_NAME = 'switchboard';
const DB_USER = 'switchboard';
/** Aurora PostgreSQL 16 ships the `vector` extension; migrations run CREATE EXTENSION. */
const AURORA_POSTGRES_VERSION = '16.6';

/**
 * Scale-out state: Aurora Serverless v2 (DATABASE_URL), ElastiCache Serverless Valkey
 * (REDIS_URL) and the uploads bucket (BLOB_STORE).
 */
export class Data extends pulumi.ComponentResource {
  readonly databaseUrlSecretArn: pulumi.Output<string>;
  readonly clusterIdentifier: pulumi.Output<string>;
  readonly redisUrl: pulumi.Output<string>;
  readonly cacheName: pulumi.Output<string>;
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
    // Generated once: both consumers ignore later changes, so a fresh value on each
    // preview never rotates the live password. Punctuation is excluded so the
    // password is URL-safe inside DATABASE_URL.
    const password = aws.secretsmanager.getRandomPasswordOutput(
      { passwordLength: 40, excludePunctuation: true },
      parent,
    ).randomPassword;
    const cluster = new aws.rds.Cluster(
      `${name}-db`,
      {
        engine: 'aurora-postgresql',
        engineMode: 'provisioned',
        engineVersion: AURORA_POSTGRES_VERSION,
        databaseName: DB_NAME,
        masterUsername: DB_USER,
        masterPassword: pulumi.secret(password),
        dbSubnetGroupName: subnets.name,
        vpcSecurityGroupIds: [args.databaseSecurityGroupId],
        storageEncrypted: true,
        serverlessv2ScalingConfiguration: {
          minCapacity: args.dbMinCapacity,
          maxCapacity: args.dbMaxCapacity,
        },
        backupRetentionPeriod: args.dbDeletionProtection ? 14 : 1,
        deletionProtection: args.dbDeletionProtection,
        skipFinalSnapshot: !args.dbDeletionProtection,
        finalSnapshotIdentifier: args.dbDeletionProtection ? `${name}-db-final` : undefined,
        copyTagsToSnapshot: true,
        enabledCloudwatchLogsExports: ['postgresql'],
        tags: args.tags,
      },
      { parent: this, ignoreChanges: ['masterPassword'] },
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
        recoveryWindowInDays: args.dbDeletionProtection ? 30 : 0,
        tags: args.tags,
      },
      parent,
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-database-url`,
      {
        secretId: dbSecret.id,
        // RDS certificates are not in Node's default trust store; the link stays inside
        // the VPC and is still TLS-encrypted.
        secretString: pulumi.secret(
          pulumi.interpolate`postgres://${DB_USER}:${password}@${cluster.endpoint}:5432/${DB_NAME}?sslmode=no-verify`,
        ),
      },
      { parent: this, ignoreChanges: ['secretString'] },
    );

    // --- ElastiCache Serverless (Valkey): TLS and encryption at rest are always on ---
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

    // --- Uploads bucket --------------------------------------------------------
    const bucket = new aws.s3.Bucket(
      `${name}-uploads`,
      { forceDestroy: !args.dbDeletionProtection, tags: args.tags },
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
    this.cacheName = cache.name;
    this.redisUrl = cache.endpoints.apply((endpoints) => {
      const primary = endpoints[0];
      return `rediss://${primary.address}:${primary.port}`;
    });
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.registerOutputs({
      clusterIdentifier: this.clusterIdentifier,
      redisUrl: this.redisUrl,
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

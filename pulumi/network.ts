import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  cidr: string;
  azCount: number;
  /** One NAT gateway per AZ (zonal resilience) instead of a single shared one (cost). */
  natGatewayPerAz: boolean;
  /**
   * private: tasks in private subnets, egress through NAT. public: tasks in public subnets
   * with a public IP and no NAT at all (the lean dev layout; ingress is still ALB-only).
   */
  taskNetworking: 'private' | 'public';
  /** Interface endpoints for ECR, Logs and Secrets Manager (cost: per endpoint per AZ-hour). */
  interfaceEndpoints: boolean;
  region: string;
  containerPort: number;
  /** Port the ALB listens on: 443 with a certificate, 80 inside the VPC otherwise. */
  albListenerPort: number;
  tags: Record<string, string>;
}

/** CloudFront's origin-facing address ranges, maintained by AWS. */
export const CLOUDFRONT_ORIGIN_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';
const POSTGRES_PORT = 5432;
/** ElastiCache Serverless serves writes on 6379 and replica reads on 6380. */
const CACHE_PORTS = { from: 6379, to: 6380 };
const INTERFACE_ENDPOINTS = ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager'];

/** Splits a /16 into /20 blocks: index 0..15. */
export function subnetCidr(vpcCidr: string, index: number): string {
  const match = /^(\d+)\.(\d+)\.0\.0\/16$/.exec(vpcCidr);
  if (!match || index < 0 || index > 15) {
    throw new pulumi.RunError(`vpcCidr must be a /16 like 10.40.0.0/16 (got ${vpcCidr})`);
  }
  return `${match[1]}.${match[2]}.${index * 16}.0/20`;
}

/**
 * VPC over `azCount` AZs with public subnets (NAT, or tasks in the lean layout) and private
 * subnets (ALB, data, and tasks in the private layout). Also owns every security group so
 * the allowed paths are reviewable in one place: CloudFront -> ALB -> task -> {database,
 * cache, VPC endpoints}. The rule admitting CloudFront's VPC-origin security group lives in
 * Edge: that group only exists once the VPC origin does.
 */
export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly privateSubnetIds: pulumi.Output<string>[];
  /** Where the gateway tasks run (public or private subnets, per taskNetworking). */
  readonly taskSubnetIds: pulumi.Output<string>[];
  readonly assignPublicIp: boolean;
  readonly albSecurityGroupId: pulumi.Output<string>;
  readonly taskSecurityGroupId: pulumi.Output<string>;
  readonly databaseSecurityGroupId: pulumi.Output<string>;
  readonly cacheSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:network:Network', name, {}, opts);
    const parent = { parent: this };
    const tag = (part: string) => ({ ...args.tags, Name: `${name}-${part}` });

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      { cidrBlock: args.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tag('vpc') },
      parent,
    );
    const zones = aws.getAvailabilityZonesOutput({ state: 'available' }, parent);
    const igw = new aws.ec2.InternetGateway(
      `${name}-igw`,
      { vpcId: vpc.id, tags: tag('igw') },
      parent,
    );

    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public-rt`,
      {
        vpcId: vpc.id,
        routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }],
        tags: tag('public-rt'),
      },
      parent,
    );

    const publicSubnets: aws.ec2.Subnet[] = [];
    const privateSubnets: aws.ec2.Subnet[] = [];
    const privateRouteTables: aws.ec2.RouteTable[] = [];
    const natGateways: aws.ec2.NatGateway[] = [];
    const useNat = args.taskNetworking === 'private';

    for (let i = 0; i < args.azCount; i++) {
      const az = zones.names.apply((names) => {
        if (names.length < args.azCount) {
          throw new Error(`region offers ${names.length} AZs, azCount is ${args.azCount}`);
        }
        return names[i];
      });
      const pub = new aws.ec2.Subnet(
        `${name}-public-${i}`,
        {
          vpcId: vpc.id,
          availabilityZone: az,
          cidrBlock: subnetCidr(args.cidr, i),
          // Only NAT gateways (Elastic IPs) or tasks with assignPublicIp run here.
          mapPublicIpOnLaunch: false,
          tags: { ...tag(`public-${i}`), Tier: 'public' },
        },
        parent,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-public-${i}`,
        { subnetId: pub.id, routeTableId: publicRoutes.id },
        parent,
      );
      publicSubnets.push(pub);

      if (useNat && (i === 0 || args.natGatewayPerAz)) {
        const eip = new aws.ec2.Eip(
          `${name}-nat-${i}`,
          { domain: 'vpc', tags: tag(`nat-${i}`) },
          parent,
        );
        natGateways.push(
          new aws.ec2.NatGateway(
            `${name}-nat-${i}`,
            { allocationId: eip.id, subnetId: pub.id, tags: tag(`nat-${i}`) },
            { parent: this, dependsOn: [igw] },
          ),
        );
      }
      const nat = useNat ? natGateways[args.natGatewayPerAz ? i : 0] : undefined;

      const priv = new aws.ec2.Subnet(
        `${name}-private-${i}`,
        {
          vpcId: vpc.id,
          availabilityZone: az,
          cidrBlock: subnetCidr(args.cidr, 8 + i),
          mapPublicIpOnLaunch: false,
          tags: { ...tag(`private-${i}`), Tier: 'private' },
        },
        parent,
      );
      const rt = new aws.ec2.RouteTable(
        `${name}-private-rt-${i}`,
        {
          vpcId: vpc.id,
          // Without NAT the private tier (ALB, database, cache) has no route out at all.
          routes: nat ? [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }] : [],
          tags: tag(`private-rt-${i}`),
        },
        parent,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-private-${i}`,
        { subnetId: priv.id, routeTableId: rt.id },
        parent,
      );
      privateSubnets.push(priv);
      privateRouteTables.push(rt);
    }

    // Security groups: declared empty, rules added below as separate resources so groups
    // can reference each other without cycles.
    const sg = (part: string, description: string) =>
      new aws.ec2.SecurityGroup(
        `${name}-${part}-sg`,
        { vpcId: vpc.id, description, tags: tag(`${part}-sg`) },
        parent,
      );
    const albSg = sg('alb', 'Internal ALB: reachable only from the CloudFront VPC origin');
    const taskSg = sg('task', 'Gateway tasks: reachable only from the ALB');
    const dbSg = sg('database', 'Aurora: reachable only from gateway tasks');
    const cacheSg = sg('cache', 'ElastiCache: reachable only from gateway tasks');

    const cloudFront = aws.ec2.getManagedPrefixListOutput(
      { name: CLOUDFRONT_ORIGIN_PREFIX_LIST },
      parent,
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-alb-from-cloudfront`,
      {
        securityGroupId: albSg.id,
        description: 'CloudFront origin-facing ranges (VPC origin)',
        ipProtocol: 'tcp',
        fromPort: args.albListenerPort,
        toPort: args.albListenerPort,
        prefixListId: cloudFront.id,
      },
      parent,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-alb-to-task`,
      {
        securityGroupId: albSg.id,
        ipProtocol: 'tcp',
        fromPort: args.containerPort,
        toPort: args.containerPort,
        referencedSecurityGroupId: taskSg.id,
      },
      parent,
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-task-from-alb`,
      {
        securityGroupId: taskSg.id,
        ipProtocol: 'tcp',
        fromPort: args.containerPort,
        toPort: args.containerPort,
        referencedSecurityGroupId: albSg.id,
      },
      parent,
    );
    // Tasks call LLM providers on the internet (through NAT or their public IP). Ingress
    // stays ALB-only on the container port: the metrics port admits nobody.
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-task-egress`,
      {
        securityGroupId: taskSg.id,
        ipProtocol: '-1',
        cidrIpv4: '0.0.0.0/0',
        description: useNat ? 'providers via NAT' : 'providers via the task public IP',
      },
      parent,
    );
    const fromTasks = (part: string, target: aws.ec2.SecurityGroup, from: number, to: number) =>
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-${part}-from-task`,
        {
          securityGroupId: target.id,
          ipProtocol: 'tcp',
          fromPort: from,
          toPort: to,
          referencedSecurityGroupId: taskSg.id,
        },
        parent,
      );
    fromTasks('database', dbSg, POSTGRES_PORT, POSTGRES_PORT);
    fromTasks('cache', cacheSg, CACHE_PORTS.from, CACHE_PORTS.to);
    // S3 (uploads, ECR layers) stays on the AWS network and off the NAT bill; gateway
    // endpoints are free.
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${args.region}.s3`,
        vpcEndpointType: 'Gateway',
        routeTableIds: [publicRoutes.id, ...privateRouteTables.map((rt) => rt.id)],
        tags: tag('s3'),
      },
      parent,
    );
    if (args.interfaceEndpoints) {
      const endpointSg = sg(
        'endpoints',
        'Interface VPC endpoints: reachable only from gateway tasks',
      );
      fromTasks('endpoints', endpointSg, 443, 443);
      for (const service of INTERFACE_ENDPOINTS) {
        new aws.ec2.VpcEndpoint(
          `${name}-${service.replace('.', '-')}`,
          {
            vpcId: vpc.id,
            serviceName: `com.amazonaws.${args.region}.${service}`,
            vpcEndpointType: 'Interface',
            privateDnsEnabled: true,
            subnetIds: (useNat ? privateSubnets : publicSubnets).map((s) => s.id),
            securityGroupIds: [endpointSg.id],
            tags: tag(service),
          },
          parent,
        );
      }
    }

    this.vpcId = vpc.id;
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.taskSubnetIds = (useNat ? privateSubnets : publicSubnets).map((s) => s.id);
    this.assignPublicIp = !useNat;
    this.albSecurityGroupId = albSg.id;
    this.taskSecurityGroupId = taskSg.id;
    this.databaseSecurityGroupId = dbSg.id;
    this.cacheSecurityGroupId = cacheSg.id;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      publicSubnetIds: this.publicSubnetIds,
    });
  }
}

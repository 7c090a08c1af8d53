import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as yaml from 'js-yaml';
import type { ResourceRecord } from '../policy';

const ROOT = path.resolve(__dirname, '..', '..');
export const ACCOUNT = '123456789012';
const PROVIDER_TYPE = 'pulumi:providers:aws';

interface ProjectFile {
  name: string;
  config?: Record<string, { default?: unknown }>;
}
interface StackFile {
  config?: Record<string, unknown>;
}

function asConfigString(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Stack configuration as Pulumi would hand it to the program: Pulumi.yaml defaults,
 * overridden by Pulumi.<stack>.yaml. Keys are fully qualified (`switchboard:azCount`).
 */
export function loadStackConfig(stack: string): {
  project: string;
  config: Record<string, string>;
} {
  const project = yaml.load(fs.readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8')) as ProjectFile;
  const stackFile = yaml.load(
    fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8'),
  ) as StackFile;
  const config: Record<string, string> = {};
  for (const [key, spec] of Object.entries(project.config ?? {})) {
    if (spec.default !== undefined)
      config[key.includes(':') ? key : `${project.name}:${key}`] = asConfigString(spec.default);
  }
  for (const [key, value] of Object.entries(stackFile.config ?? {})) {
    config[key] = asConfigString(value);
  }
  return { project: project.name, config };
}

export interface RecordedResource extends ResourceRecord {
  inputs: Record<string, unknown>;
  /** Provider reference (`urn::id`) the resource was registered with, if any. */
  provider?: string;
}

export interface MockedStack {
  config: Record<string, string>;
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  ofType(type: string): RecordedResource[];
  one(type: string, nameIncludes?: string): RecordedResource;
}

/** Pulumi's wire marker for a secret value: `{ [SIG]: SECRET_SIG, value }`. */
const SIG = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

/** Inputs as the provider would see them: secrets unwrapped to their values. */
function unsecret(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unsecret);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o[SIG] === SECRET_SIG) return unsecret(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, unsecret(v)]));
  }
  return value;
}

function lastSegment(ref: string): string {
  return ref.slice(ref.lastIndexOf('::') + 2);
}

/** Outputs AWS would compute for a resource, derived deterministically from its inputs. */
function computedState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  region: string,
  id: string,
): Record<string, unknown> {
  const service = type.split(':')[1]?.split('/')[0] ?? 'unknown';
  const state: Record<string, unknown> = {
    ...inputs,
    // Resources whose input is called `arn` (event targets, topic policies) reference another.
    arn:
      typeof inputs.arn === 'string'
        ? inputs.arn
        : `arn:aws:${service}:${region}:${ACCOUNT}:${name}`,
    name: inputs.name ?? name,
  };
  switch (type) {
    case 'aws:lb/loadBalancer:LoadBalancer':
      state.arn = `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:loadbalancer/app/${name}/abc123`;
      state.arnSuffix = `app/${name}/abc123`;
      state.dnsName = `internal-${name}.${region}.elb.amazonaws.com`;
      state.zoneId = 'Z32O12XQLNTSW2';
      break;
    case 'aws:lb/targetGroup:TargetGroup':
      state.arnSuffix = `targetgroup/${name}/def456`;
      break;
    case 'aws:ecr/repository:Repository':
      state.repositoryUrl = `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${name}`;
      break;
    case 'aws:rds/cluster:Cluster':
      state.clusterIdentifier = name;
      state.endpoint = `${name}.cluster-xyz.${region}.rds.amazonaws.com`;
      break;
    case 'aws:elasticache/serverlessCache:ServerlessCache':
      state.endpoints = [
        { address: `${name}.serverless.${region}.cache.amazonaws.com`, port: 6379 },
      ];
      break;
    case 'aws:s3/bucket:Bucket':
      state.bucket = name;
      state.arn = `arn:aws:s3:::${name}`;
      break;
    case 'aws:cloudfront/distribution:Distribution':
      state.domainName = `${id}.cloudfront.net`;
      state.hostedZoneId = 'Z2FDTNDATAQYW2';
      break;
    case 'aws:wafv2/webAcl:WebAcl':
      state.arn = `arn:aws:wafv2:${region}:${ACCOUNT}:global/webacl/${name}/${id}`;
      break;
    case 'aws:acm/certificate:Certificate':
      state.domainValidationOptions = [
        {
          domainName: inputs.domainName,
          resourceRecordName: `_v.${String(inputs.domainName)}.`,
          resourceRecordType: 'CNAME',
          resourceRecordValue: '_x.acm-validations.aws.',
        },
      ];
      break;
    case 'random:index/randomPassword:RandomPassword': {
      const length = typeof inputs.length === 'number' ? inputs.length : 16;
      state.result = `Mock0${name}`
        .replace(/[^A-Za-z0-9]/g, '')
        .padEnd(length, 'x')
        .slice(0, length);
      break;
    }
    case 'aws:ecs/service:Service':
      state.arn = `arn:aws:ecs:${region}:${ACCOUNT}:service/${name}`;
      break;
    case 'aws:cloudwatch/logGroup:LogGroup':
      state.arn = `arn:aws:logs:${region}:${ACCOUNT}:log-group:${typeof inputs.name === 'string' ? inputs.name : name}`;
      break;
    case 'aws:route53/record:Record':
      state.fqdn = inputs.name;
      break;
    case 'aws:cloudwatch/dashboard:Dashboard':
      state.dashboardName = inputs.dashboardName;
      break;
    default:
      break;
  }
  return state;
}

/**
 * Runs the Pulumi program for `stack` in-process under mocks and returns every resource it
 * registered. `overrides` replace individual config keys (for variants the committed stack
 * files do not cover). Pulumi's runtime is global: call once per Jest test file.
 */
export async function runMockedStack(
  stack: string,
  overrides: Record<string, string> = {},
): Promise<MockedStack> {
  const loaded = loadStackConfig(stack);
  const project = loaded.project;
  const config = { ...loaded.config, ...overrides };
  const stackRegion = config['aws:region'];
  if (!stackRegion) throw new Error(`Pulumi.${stack}.yaml has no aws:region`);
  const resources: RecordedResource[] = [];
  const providerRegions = new Map<string, string>();

  const regionOf = (provider: string | undefined, inputs: Record<string, unknown>): string =>
    (typeof inputs.region === 'string' ? inputs.region : undefined) ??
    (provider ? providerRegions.get(lastSegment(provider)) : undefined) ??
    stackRegion;

  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        const inputs = unsecret(args.inputs) as Record<string, unknown>;
        const id = `${args.name}-id`;
        if (args.type === PROVIDER_TYPE) {
          providerRegions.set(id, typeof inputs.region === 'string' ? inputs.region : stackRegion);
          return { id, state: inputs };
        }
        const region = regionOf(args.provider, inputs);
        const state = computedState(args.type, args.name, inputs, region, id);
        resources.push({
          type: args.type,
          name: args.name,
          id,
          region,
          inputs,
          props: { ...state, id },
          provider: args.provider,
        });
        return { id, state };
      },
      call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
        const inputs = args.inputs as Record<string, unknown>;
        const region = regionOf(args.provider, inputs);
        switch (args.token) {
          case 'aws:index/getAvailabilityZones:getAvailabilityZones':
            return {
              id: region,
              names: ['a', 'b', 'c'].map((z) => `${region}${z}`),
              zoneIds: ['1', '2', '3'].map((z) => `euw1-az${z}`),
            };
          case 'aws:index/getCallerIdentity:getCallerIdentity':
            return {
              id: ACCOUNT,
              accountId: ACCOUNT,
              arn: `arn:aws:iam::${ACCOUNT}:user/ci`,
              userId: 'AIDA',
            };
          case 'aws:ec2/getManagedPrefixList:getManagedPrefixList':
            if (inputs.name !== 'com.amazonaws.global.cloudfront.origin-facing') {
              throw new Error(`unexpected prefix list lookup ${JSON.stringify(inputs)}`);
            }
            return { id: 'pl-4fa04526', name: inputs.name, entries: [] };
          case 'aws:ec2/getSecurityGroup:getSecurityGroup': {
            const filters = (inputs.filters ?? []) as { name: string; values: string[] }[];
            const groupName = filters.find((f) => f.name === 'group-name')?.values[0];
            const vpcId = filters.find((f) => f.name === 'vpc-id')?.values[0];
            if (groupName !== 'CloudFront-VPCOrigins-Service-SG' || !vpcId) {
              throw new Error(`unexpected security group lookup ${JSON.stringify(inputs)}`);
            }
            return { id: 'sg-cloudfront-vpc-origins', name: groupName, vpcId };
          }
          case 'aws:elb/getServiceAccount:getServiceAccount':
            return { id: '156460612806', arn: 'arn:aws:iam::156460612806:root' };
          default:
            // An unanswered lookup would otherwise resolve to undefined and hide a bug.
            throw new Error(`unmocked data source ${args.token}`);
        }
      },
    },
    project,
    stack,
    false,
  );

  const program = (await import('../index')) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) {
    outputs[key] = pulumi.Output.isInstance(value) ? await outputValue(value) : value;
  }
  await settle(resources);

  return {
    config,
    resources,
    outputs,
    ofType: (type) => resources.filter((r) => r.type === type),
    one(type, nameIncludes) {
      const found = resources.filter(
        (r) => r.type === type && (nameIncludes === undefined || r.name.includes(nameIncludes)),
      );
      if (found.length !== 1)
        throw new Error(
          `expected one ${type}${nameIncludes ? ` ~${nameIncludes}` : ''}, found ${found.length}`,
        );
      return found[0];
    },
  };
}

function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Resolves once no new resource has been registered for a few event-loop turns. */
async function settle(resources: unknown[]): Promise<void> {
  let last = -1;
  let stable = 0;
  while (stable < 5) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    stable = resources.length === last ? stable + 1 : 0;
    last = resources.length;
  }
}

import { checkAll, containerDefinitions, T } from './policy';
import { OTEL_COLLECTOR_IMAGE, OTEL_COLLECTOR_NAME } from './service';
import { MockedStack, runMockedStack } from './testing/mock-stack';

type Container = ReturnType<typeof containerDefinitions>[number] & {
  essential?: boolean;
  command?: string[];
  image?: string;
};

const containers = (stack: MockedStack) =>
  containerDefinitions(stack.one(T.taskDefinition)) as Container[];
const envOf = (c: Container) => new Map((c.environment ?? []).map((e) => [e.name, e.value]));
const taskPolicy = (stack: MockedStack): string =>
  String(
    stack.ofType('aws:iam/rolePolicy:RolePolicy').find((p) => p.name.endsWith('-task'))?.props
      .policy,
  );

// One mocked program run per file: prod with traces on (the defaults are asserted for both
// stacks in testing/stack-assertions.ts).
describe('prod with tracesEnabled', () => {
  let stack: MockedStack;

  beforeAll(async () => {
    stack = await runMockedStack('prod', { 'switchboard:tracesEnabled': 'true' });
  });

  it('still passes every policy invariant', () => {
    expect(checkAll(stack.resources)).toEqual([]);
  });

  it('adds an ADOT collector sidecar exporting to X-Ray and points the gateway at it', () => {
    const [gateway, collector] = containers(stack);
    expect(envOf(gateway).get('OTEL_TRACES_ENABLED')).toBe('true');
    expect(envOf(gateway).get('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe('http://127.0.0.1:4318');
    expect(collector).toMatchObject({
      name: OTEL_COLLECTOR_NAME,
      image: OTEL_COLLECTOR_IMAGE,
      essential: false,
      command: ['--config=/etc/ecs/ecs-xray.yaml'],
      readonlyRootFilesystem: true,
    });
  });

  it('lets the task role write X-Ray segments, and nothing else new', () => {
    const policy = JSON.parse(taskPolicy(stack)) as {
      Statement: Array<{ Action: string[]; Resource: unknown }>;
    };
    const xray = policy.Statement.filter((s) => s.Action.some((a) => a.startsWith('xray:')));
    expect(xray).toHaveLength(1);
    expect(xray[0].Action.every((a) => a.startsWith('xray:'))).toBe(true);
  });
});

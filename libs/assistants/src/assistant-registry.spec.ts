import { AppError } from '@switchboard/common';
import { AssistantRegistry } from './assistant-registry';
import {
  TEST_CATALOGUE,
  collect,
  runContext,
  simRequests,
  startSimWorld,
  textOfEvents,
  type SimWorld,
} from './testing/assistants.testing';

/** Selection needs the catalogue only, not a provider. */
const directory = {
  resolve: (id: string) => {
    const m = TEST_CATALOGUE.find((x) => x.id === id);
    if (!m) throw new AppError('model_not_found');
    return m;
  },
};

function sel(over: Partial<Parameters<AssistantRegistry['select']>[0]> = {}) {
  return {
    principal: {
      kind: 'user' as const,
      userId: 'u',
      accountIds: [],
      scopes: ['chat' as const],
      limits: {},
    },
    modelId: 'main',
    messages: [{ role: 'user' as const, content: 'Summarise the report.' }],
    params: {},
    documents: [],
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error('expected a rejection');
}

describe('AssistantRegistry construction', () => {
  it('refuses a map or summary model that is not served, naming the setting', () => {
    expect(
      () => new AssistantRegistry({ models: directory, config: { mapModelId: 'gone' } }),
    ).toThrow('assistants: mapModelId "gone" is not a model this gateway serves');
    expect(
      () => new AssistantRegistry({ models: directory, config: { summaryModelId: 'cheap' } }),
    ).not.toThrow();
  });
});

describe('AssistantRegistry.select', () => {
  const registry = new AssistantRegistry({ models: directory });

  it('picks the default when no documents overflow the context', async () => {
    const small = [{ fileId: 'f1', name: 'a.txt', text: 'short text' }];
    expect((await registry.select(sel())).id).toBe('default');
    expect((await registry.select(sel({ documents: small }))).id).toBe('default');
  });

  it('picks map-reduce when the documents exceed the model context budget', async () => {
    const big = [
      { fileId: 'f1', name: 'big.txt', text: 'lorem ipsum dolor sit amet '.repeat(2000) },
    ];
    expect((await registry.select(sel({ documents: big }))).id).toBe('map-reduce');
  });

  it('honours an explicit built-in id', async () => {
    expect((await registry.select(sel(), 'agent')).id).toBe('agent');
    expect((await registry.select(sel(), 'default')).id).toBe('default');
  });

  it('refuses an unknown id with not_found', async () => {
    const e = await rejection(registry.select(sel(), 'asst_nope'));
    expect(e).toBeInstanceOf(AppError);
    expect(e.code).toBe('not_found');
  });

  it('refuses the agent on a model without tool calling', async () => {
    const e = await rejection(registry.select(sel({ modelId: 'plain' }), 'agent'));
    expect(e.code).toBe('unsupported_capability');
  });

  it('refuses the code interpreter on a model without hosted code execution (400)', async () => {
    const without = await rejection(registry.select(sel(), 'code-interpreter'));
    expect(without.code).toBe('unsupported_capability');
    expect(without.status).toBe(400);
    expect(without.message).toMatch(/does not offer hosted code execution/);
  });

  it('picks the code interpreter on a model that offers it', async () => {
    const a = await registry.select(sel({ modelId: 'coder' }), 'code-interpreter');
    expect(a.id).toBe('code-interpreter');
    expect(registry.builtIns().map((b) => b.id)).toContain('code-interpreter');
  });

  it('refuses map-reduce without documents', async () => {
    const e = await rejection(registry.select(sel(), 'map-reduce'));
    expect(e.code).toBe('invalid_request');
  });
});

describe('default assistant against the simulator', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await startSimWorld();
  });
  afterAll(() => world.close());

  it('announces itself first, then sends system prompt + history + delimited documents in one call', async () => {
    const registry = new AssistantRegistry({ models: world.llm });
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'earlier question' },
      { role: 'assistant' as const, content: 'earlier answer' },
      { role: 'user' as const, content: 'What does the memo say?\n#sim echo=1' },
    ];
    const documents = [{ fileId: 'f-7', name: 'memo.txt', text: 'The launch moves to March.' }];
    const a = await registry.select(sel({ messages, documents }));
    const events = await collect(a.run(runContext(world, { messages, documents })));

    expect(events[0]).toEqual({
      type: 'state',
      state: { currentAssistant: { id: 'default', name: 'Default' } },
    });
    const answer = textOfEvents(events);
    expect(answer).toContain('You are terse.');
    expect(answer).toContain('<document source="memo.txt" id="f-7">');
    expect(answer).toContain('The launch moves to March.');
    expect(answer).toContain('earlier answer');
    expect(world.caller.calls).toHaveLength(1);
    const [req] = (await simRequests(world.sim, 1)).map((r) => r.body);
    expect(req.model).toBe('main-upstream');
    expect(req.messages.map((m) => m.role)).toEqual([
      'system',
      'system',
      'user',
      'assistant',
      'user',
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('plans one call of the main model, capped at its window', async () => {
    const registry = new AssistantRegistry({ models: world.llm });
    const a = await registry.select(sel());
    const plan = a.plan!({ ...runContext(world, { messages: sel().messages }) });
    expect(plan).toEqual([
      { modelId: 'main', promptTokens: expect.any(Number), maxOutputTokens: 200 },
    ]);
  });
});

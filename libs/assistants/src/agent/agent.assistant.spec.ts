import { waitFor } from '@switchboard/common/testing';
import type { ChatMessage } from '@switchboard/llm';
import { resolveConfig, type AssistantsConfig } from '../assistants.config';
import {
  FakeDocumentAccess,
  TEST_CATALOGUE,
  collect,
  runContext,
  simRequests,
  startSimWorld,
  statuses,
  textOfEvents,
  type SimWorld,
} from '../testing/assistants.testing';
import { AgentAssistant, runAgent } from './agent.assistant';
import { builtInTools } from './built-in.tools';
import type { AgentTool } from './tool';
import { ToolError, ToolRunner } from './tool-runner';
import { SsrfGuard } from '@switchboard/datasources';
import { lastValueFrom } from 'rxjs';

const REFUND_CHUNK =
  'Refund policy: customers may return any item within 30 days for a full refund, no questions asked.';

const docs = () =>
  new FakeDocumentAccess([
    { fileId: 'f-policy', name: 'policy.md', tags: ['support'], text: REFUND_CHUNK },
    { fileId: 'f-menu', name: 'menu.md', tags: ['cafe'], text: 'Espresso costs two euros.' },
  ]);

function user(text: string): ChatMessage[] {
  return [{ role: 'user', content: text }];
}

describe('agent assistant against the simulator', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await startSimWorld();
  });
  afterAll(() => world.close());
  beforeEach(async () => {
    world.caller.calls.length = 0;
    await fetch(`${world.sim.url}/_sim/reset`, { method: 'POST' });
  });

  const deps = (config: AssistantsConfig = {}) => ({
    models: world.llm,
    config: resolveConfig(config),
  });

  it('calls search_documents, feeds the result back, and answers with it', async () => {
    const agent = new AgentAssistant(deps());
    const events = await collect(
      agent.run(
        runContext(world, {
          messages: user(
            'What is the refund policy?\n#sim tool=search_documents args={"query":"refund policy"}',
          ),
          docs: docs(),
        }),
      ),
    );

    const calls = world.caller.calls;
    expect(calls).toHaveLength(2);
    expect(calls[0].params.tools!.map((t) => t.name)).toEqual([
      'search_documents',
      'read_document',
      'list_documents',
    ]);
    // second call: the assistant turn with its tool call, then the tool result
    const second = calls[1].messages;
    const turn = second.at(-2)!;
    const result = second.at(-1)!;
    expect(turn.role).toBe('assistant');
    expect(turn.toolCalls).toEqual([
      { id: expect.any(String), name: 'search_documents', arguments: '{"query":"refund policy"}' },
    ]);
    expect(result).toMatchObject({
      role: 'tool',
      toolCallId: turn.toolCalls![0].id,
      name: 'search_documents',
    });
    expect(JSON.parse(result.content as string).results[0]).toMatchObject({
      fileId: 'f-policy',
      text: REFUND_CHUNK,
    });
    // what reached upstream: the simulator answers with the start of the tool result
    const answer = textOfEvents(events);
    expect(answer).toMatch(/^Tool search_documents returned: /);
    expect(answer).toContain('f-policy');
    const reqs = await simRequests(world.sim);
    expect(JSON.stringify(reqs.at(-1)!.body.messages.at(-1))).toContain('Refund policy: customers');

    const st = statuses(events);
    expect(st.map((s) => [s.message, s.inProgress])).toEqual([
      ['calling search_documents', true],
      [expect.stringMatching(/^search_documents returned \d+ characters$/), false],
      ['answered after 2 steps', false],
    ]);
    expect(events.filter((e) => e.type === 'usage')).toHaveLength(1);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    expect(events.some((e) => e.type === 'tool_call')).toBe(false);
  });

  it.each(['main-bedrock', 'main-gemini'])(
    'runs the same loop over %s (each provider maps tool calls and results its own way)',
    async (modelId) => {
      const events = await collect(
        new AgentAssistant(deps()).run(
          runContext(world, {
            modelId,
            messages: user('Refunds?\n#sim tool=search_documents args={"query":"refund policy"}'),
            docs: docs(),
          }),
        ),
      );
      expect(world.caller.calls).toHaveLength(2);
      expect(textOfEvents(events)).toMatch(/^Tool search_documents returned: .*Refund policy/);
      expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    },
  );

  it('gives up on a tool that outlives its timeout, telling the tool to stop', async () => {
    let toolSignal: AbortSignal | undefined;
    const slow: AgentTool = {
      name: 'slow',
      description: 'never answers',
      parameters: { type: 'object' },
      run: (_args, ctx) => {
        toolSignal = ctx.signal;
        return new Promise(() => undefined);
      },
    };
    await collect(
      runAgent(
        deps({ toolTimeoutMs: 50 }),
        runContext(world, { messages: user('#sim tool=slow args={}') }),
        { modelId: 'main', documents: [], tools: [slow] },
      ),
    );
    expect(toolSignal?.aborted).toBe(true);
    expect(JSON.parse(world.caller.calls[1].messages.at(-1)!.content as string)).toEqual({
      error: 'timed out after 50 ms',
    });
  });

  it('sends a throwing tool back to the model as an error result and carries on', async () => {
    const explode: AgentTool = {
      name: 'explode',
      description: 'always fails',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      run: () => Promise.reject(new Error('database password is hunter2')),
    };
    const events = await collect(
      runAgent(
        deps(),
        runContext(world, { messages: user('Try it.\n#sim tool=explode args={}') }),
        { modelId: 'main', documents: [], tools: [explode] },
      ),
    );
    const toolMsg = world.caller.calls[1].messages.at(-1)!;
    expect(toolMsg.role).toBe('tool');
    // internal messages stay inside: the model gets a generic error
    expect(JSON.parse(toolMsg.content as string)).toEqual({ error: 'the tool failed' });
    expect(textOfEvents(events)).toBe('Tool explode returned: {"error":"the tool failed"}');
    expect(statuses(events).map((s) => s.message)).toContain('explode failed: the tool failed');
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('passes a ToolError message to the model', async () => {
    const picky: AgentTool = {
      name: 'picky',
      description: 'refuses',
      parameters: { type: 'object' },
      run: () => Promise.reject(new ToolError('no such order 42')),
    };
    await collect(
      runAgent(deps(), runContext(world, { messages: user('#sim tool=picky args={}') }), {
        modelId: 'main',
        documents: [],
        tools: [picky],
      }),
    );
    expect(JSON.parse(world.caller.calls[1].messages.at(-1)!.content as string)).toEqual({
      error: 'no such order 42',
    });
  });

  it('answers arguments that break the JSON schema with an error result, without running the tool', async () => {
    const d = docs();
    const events = await collect(
      new AgentAssistant(deps()).run(
        runContext(world, {
          messages: user('#sim tool=search_documents args={"query":"x","k":"many"}'),
          docs: d,
        }),
      ),
    );
    expect(d.searches).toHaveLength(0);
    const content = JSON.parse(world.caller.calls[1].messages.at(-1)!.content as string) as {
      error: string;
    };
    expect(content.error).toMatch(/^invalid arguments: \/k must be integer/);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('answers an unknown tool with an error result', async () => {
    await collect(
      new AgentAssistant(deps()).run(
        runContext(world, { messages: user('#sim tool=rm_rf args={}'), docs: docs() }),
      ),
    );
    expect(JSON.parse(world.caller.calls[1].messages.at(-1)!.content as string)).toEqual({
      error: 'unknown tool "rm_rf"',
    });
  });

  it('stops a model that calls tools forever at the step limit, with a clear end state', async () => {
    const events = await collect(
      new AgentAssistant(deps({ agentMaxSteps: 3 })).run(
        runContext(world, {
          messages: user('#sim tool=list_documents args={} loop=1'),
          docs: docs(),
        }),
      ),
    );
    expect(world.caller.calls).toHaveLength(3);
    expect((await simRequests(world.sim)).length).toBe(3);
    const last = statuses(events).at(-1)!;
    expect(last).toMatchObject({
      id: 'agent',
      inProgress: false,
      end: 'max_steps',
      steps: 3,
      message: 'stopped: step limit of 3 model calls reached without a final answer',
    });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
    // two rounds of tools ran; the third call's tool request was not run
    expect(statuses(events).filter((s) => s.message === 'calling list_documents')).toHaveLength(2);
  });

  it('stops at the wall-clock deadline and aborts the call in flight', async () => {
    const events = await collect(
      new AgentAssistant(deps({ agentDeadlineMs: 300 })).run(
        runContext(world, { messages: user('#sim ttft=5000'), docs: docs() }),
      ),
    );
    expect(statuses(events).at(-1)).toMatchObject({ end: 'deadline', inProgress: false });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
    const aborted = async () =>
      ((await (await fetch(`${world.sim.url}/_sim/stats`)).json()) as { aborted: number }).aborted;
    await waitFor(async () => (await aborted()) >= 1, { what: 'the call in flight aborted' });
    expect(await aborted()).toBe(1);
  });
});

describe('agent plan', () => {
  it('plans agentMaxSteps calls, and refuses before streaming when the last message cannot fit', () => {
    const deps = {
      models: { resolve: () => TEST_CATALOGUE[0] },
      config: resolveConfig({ agentMaxSteps: 4 }),
    };
    const agent = new AgentAssistant(deps);
    const ctx = runContext({ caller: undefined as never }, { messages: user('hello') });
    expect(agent.plan(ctx).map((c) => c.modelId)).toEqual(['main', 'main', 'main', 'main']);
    expect(() => agent.plan({ ...ctx, messages: user('word '.repeat(5000)) })).toThrow(
      expect.objectContaining({ code: 'context_length_exceeded' }),
    );
  });
});

describe('built-in tools', () => {
  it('fetch_url through the SSRF guard: an internal address comes back as an error result', async () => {
    const runner = new ToolRunner([...builtInTools({ urlFetcher: new SsrfGuard() }).values()], {
      timeoutMs: 5000,
      maxResultChars: 1000,
    });
    const out = await lastValueFrom(
      runner.run(
        {
          id: 'c1',
          name: 'fetch_url',
          arguments: '{"url":"http://169.254.169.254/latest/meta-data/"}',
        },
        {
          principal: undefined as never,
          docs: new FakeDocumentAccess([]),
          signal: new AbortController().signal,
        },
      ),
    );
    expect(out.ok).toBe(false);
    const error = (JSON.parse(out.content) as { error: string }).error;
    expect(error).not.toBe('the tool failed');
    expect(error).toMatch(/169\.254\.169\.254|link-?local|not allowed|refused/i);
  });

  it('offers fetch_url only with a fetcher, and fetches through it', async () => {
    expect(builtInTools({}).has('fetch_url')).toBe(false);
    const fetched: string[] = [];
    const tools = builtInTools({
      urlFetcher: {
        fetch: (url) => {
          fetched.push(url);
          return Promise.resolve({
            status: 200,
            url,
            contentType: 'text/plain',
            body: Buffer.from('hello'),
          });
        },
      },
    });
    const out = await tools.get('fetch_url')!.run(
      { url: 'https://example.com/a' },
      {
        principal: undefined as never,
        docs: new FakeDocumentAccess([]),
        signal: new AbortController().signal,
      },
    );
    expect(fetched).toEqual(['https://example.com/a']);
    expect(out).toMatchObject({ status: 200, text: 'hello' });
  });

  it('restricts search_documents to the scope it was built with', async () => {
    const d = docs();
    const tools = builtInTools({ scope: { fileIds: ['f-menu'] } });
    const out = (await tools
      .get('search_documents')!
      .run(
        { query: 'refund policy' },
        { principal: undefined as never, docs: d, signal: new AbortController().signal },
      )) as { results: unknown[] };
    expect(d.searches[0].opts).toMatchObject({ fileIds: ['f-menu'] });
    expect(out.results).toEqual([]);
  });
});

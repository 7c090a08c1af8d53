import { waitFor } from '@switchboard/common/testing';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  type Message,
} from '@aws-sdk/client-bedrock-runtime';
import { startSimulator, type RunningSimulator } from './simulator.server';
import { promptTokens, WORDS } from './reply.planner';

describe('Bedrock Runtime protocol (real AWS SDK client)', () => {
  let sim: RunningSimulator;
  let client: BedrockRuntimeClient;
  const modelId = 'anthropic.claude-3-5-sonnet-20240620-v1:0';

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    client = new BedrockRuntimeClient({
      endpoint: sim.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await sim.close();
  });

  it('streams text over the event stream with stop reason and usage including cache reads', async () => {
    const text = 'hello\n#sim tokens=4 cached=10 reasoning=3';
    const out = await client.send(
      new ConverseStreamCommand({
        modelId,
        system: [{ text: 'sys' }],
        messages: [{ role: 'user', content: [{ text }] }],
      }),
    );
    const events: string[] = [];
    let streamed = '';
    let stopReason: string | undefined;
    let usage: object | undefined;
    let latency: number | undefined;
    for await (const ev of out.stream!) {
      events.push(Object.entries(ev).find(([, v]) => v !== undefined)?.[0] ?? '');
      streamed += ev.contentBlockDelta?.delta?.text ?? '';
      stopReason = ev.messageStop?.stopReason ?? stopReason;
      if (ev.metadata) {
        usage = { ...ev.metadata.usage };
        latency = ev.metadata.metrics?.latencyMs;
      }
    }
    expect(streamed).toBe(WORDS.slice(0, 4).join(' '));
    expect(stopReason).toBe('end_turn');
    expect(events[0]).toBe('messageStart');
    expect(events.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
    const visible = promptTokens([
      { role: 'system', text: 'sys' },
      { role: 'user', text },
    ]);
    // Bedrock reports cache reads beside inputTokens, not inside them.
    expect(usage).toMatchObject({
      inputTokens: visible,
      cacheReadInputTokens: 10,
      cacheWriteInputTokens: 0,
      outputTokens: 7,
      totalTokens: visible + 10 + 7,
    });
    expect(typeof latency).toBe('number');
  });

  it('answers Converse with text and max_tokens truncation', async () => {
    const res = await client.send(
      new ConverseCommand({
        modelId,
        messages: [{ role: 'user', content: [{ text: '#sim tokens=9 text=la' }] }],
        inferenceConfig: { maxTokens: 2 },
      }),
    );
    expect(res.output?.message?.content?.[0].text).toBe('la la');
    expect(res.stopReason).toBe('max_tokens');
    expect(res.usage?.outputTokens).toBe(2);
  });

  it('runs a tool-use round trip in the stream and in Converse', async () => {
    const user: Message = { role: 'user', content: [{ text: '#sim tool=lookup args={"id":42}' }] };
    const toolConfig = {
      tools: [{ toolSpec: { name: 'lookup', inputSchema: { json: { type: 'object' } } } }],
    };
    const out = await client.send(
      new ConverseStreamCommand({ modelId, messages: [user], toolConfig }),
    );
    let toolUseId = '';
    let name = '';
    let input = '';
    let stopReason: string | undefined;
    for await (const ev of out.stream!) {
      const start = ev.contentBlockStart?.start?.toolUse;
      if (start) {
        toolUseId = start.toolUseId ?? '';
        name = start.name ?? '';
      }
      input += ev.contentBlockDelta?.delta?.toolUse?.input ?? '';
      stopReason = ev.messageStop?.stopReason ?? stopReason;
    }
    expect(name).toBe('lookup');
    expect(JSON.parse(input)).toEqual({ id: 42 });
    expect(stopReason).toBe('tool_use');

    const called = await client.send(
      new ConverseCommand({ modelId, messages: [user], toolConfig }),
    );
    expect(called.stopReason).toBe('tool_use');
    expect(called.output?.message?.content?.[0].toolUse).toMatchObject({
      name: 'lookup',
      input: { id: 42 },
    });

    const answer = await client.send(
      new ConverseCommand({
        modelId,
        toolConfig,
        messages: [
          user,
          { role: 'assistant', content: [{ toolUse: { toolUseId, name, input: { id: 42 } } }] },
          {
            role: 'user',
            content: [{ toolResult: { toolUseId, content: [{ json: { title: 'Dune' } }] } }],
          },
        ],
      }),
    );
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.output?.message?.content?.[0].text).toBe(
      'Tool lookup returned: {"title":"Dune"}',
    );
  });

  it('surfaces fail=429 as ThrottlingException with Retry-After', async () => {
    const send = client.send(
      new ConverseStreamCommand({
        modelId,
        messages: [{ role: 'user', content: [{ text: '#sim fail=429' }] }],
      }),
    );
    await expect(send).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 429 },
    });
    const raw = await fetch(`${sim.url}/model/${encodeURIComponent(modelId)}/converse`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: '#sim fail=429' }] }] }),
    });
    expect(raw.headers.get('retry-after')).toBe('1');
    expect(raw.headers.get('x-amzn-errortype')).toMatch(/^ThrottlingException:/);
  });

  it('surfaces fail=500 as InternalServerException', async () => {
    await expect(
      client.send(
        new ConverseCommand({
          modelId,
          messages: [{ role: 'user', content: [{ text: '#sim fail=500' }] }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InternalServerException' });
  });

  it('breaks the stream after N deltas with fail=drop', async () => {
    const out = await client.send(
      new ConverseStreamCommand({
        modelId,
        messages: [{ role: 'user', content: [{ text: '#sim fail=drop after=2' }] }],
      }),
    );
    let deltas = 0;
    await expect(
      (async () => {
        for await (const ev of out.stream!) if (ev.contentBlockDelta) deltas++;
      })(),
    ).rejects.toThrow();
    expect(deltas).toBe(2);
  });

  it('counts a client abort on a hanging HTTP/2 stream within 100 ms', async () => {
    sim.reset();
    const controller = new AbortController();
    const pending = client.send(
      new ConverseStreamCommand({
        modelId,
        messages: [{ role: 'user', content: [{ text: '#sim fail=hang' }] }],
      }),
      { abortSignal: controller.signal },
    );
    pending.catch(() => undefined);
    await waitFor(() => sim.stats().open === 1, { what: 'the request open on the simulator' });
    expect(sim.stats()).toMatchObject({ open: 1, started: 1 });
    controller.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => sim.stats().aborted === 1, { what: 'the abort counted' });
    expect(sim.stats()).toMatchObject({ open: 0, aborted: 1, completed: 0 });
  });

  it('decodes model ids carrying ":" and "/" (inference profile ARNs)', async () => {
    const arn =
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
    const res = await client.send(
      new ConverseCommand({
        modelId: arn,
        messages: [{ role: 'user', content: [{ text: '#sim tokens=1' }] }],
      }),
    );
    expect(res.output?.message?.content?.[0].text).toBe(WORDS[0]);
    const log = (await (await fetch(`${sim.url}/_sim/requests?limit=1`)).json()) as {
      requests: { protocol: string; path: string }[];
    };
    expect(log.requests[0].protocol).toBe('bedrock');
    expect(decodeURIComponent(log.requests[0].path)).toBe(`/model/${arn}/converse`);
  });

  it('invokes Titan and Cohere embedding models deterministically', async () => {
    const invoke = async (model: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await client.send(
        new InvokeModelCommand({
          modelId: model,
          contentType: 'application/json',
          accept: 'application/json',
          body: JSON.stringify(body),
        }),
      );
      return JSON.parse(new TextDecoder().decode(res.body)) as Record<string, unknown>;
    };
    const a = await invoke('amazon.titan-embed-text-v2:0', {
      inputText: 'red apples',
      dimensions: 256,
    });
    const b = await invoke('amazon.titan-embed-text-v2:0', {
      inputText: 'red apples',
      dimensions: 256,
    });
    expect(a.embedding).toHaveLength(256);
    expect(a.embedding).toEqual(b.embedding);
    expect(a.inputTextTokenCount).toBe(3);
    const dflt = await invoke('amazon.titan-embed-text-v2:0', { inputText: 'x' });
    expect(dflt.embedding).toHaveLength(1024);

    const cohere = await invoke('cohere.embed-english-v3', {
      texts: ['a', 'b'],
      input_type: 'search_document',
    });
    expect(cohere.response_type).toBe('embeddings_floats');
    expect(cohere.embeddings).toHaveLength(2);
    expect((cohere.embeddings as number[][])[0]).toHaveLength(1024);
  });
});

import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { AppError } from '@switchboard/common';
import { embedText } from '@switchboard/simulator';
import type { ChatMessage } from '../chat.types';
import { UpstreamError } from '../upstream-error';
import { BedrockProvider } from './bedrock.provider';
import {
  buildConverseRequest,
  finishFromBedrock,
  mapBedrockError,
  usageFromBedrock,
} from './bedrock-converse.mapper';
import {
  collect,
  collectUntilError,
  describeProviderContract,
  textOf,
  toolCallsOf,
  WEATHER_TOOL,
} from './provider-contract.testing';

const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
let client: BedrockRuntimeClient;

const ctx = describeProviderContract('Bedrock', (url) => {
  client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    provider: new BedrockProvider({ client, simulated: true }),
    protocol: 'bedrock',
    chatModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
    embeddingModel: 'amazon.titan-embed-text-v2:0',
    embeddingDimensions: 1024,
    // Bedrock folds reasoning into outputTokens and reports no separate count.
    reportsReasoning: false,
    answersWhole: false,
    close: () => client.destroy(),
  };
});

interface ConverseBody {
  messages: Array<{ role: string; content: Array<Record<string, unknown>> }>;
  system?: unknown;
  inferenceConfig?: unknown;
  toolConfig?: unknown;
  additionalModelRequestFields?: unknown;
  outputConfig?: unknown;
}

describe('Bedrock adapter: request shape on the wire', () => {
  it('maps system, images, tool use and grouped tool results into alternating Converse turns', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'user',
        content: [{ type: 'image', url: `data:image/png;base64,${PNG_BYTES.toString('base64')}` }],
      },
      {
        role: 'assistant',
        content: 'Checking.',
        toolCalls: [
          { id: 'tu_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'tu_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'tu_1', content: '21C' },
      { role: 'tool', toolCallId: 'tu_2', content: '25C' },
      { role: 'user', content: 'Thanks' },
    ];
    await collect(
      ctx.target().provider.stream({
        upstreamModel: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
        messages,
        tools: [WEATHER_TOOL],
        toolChoice: { name: 'get_weather' },
        maxTokens: 100,
        temperature: 0.5,
        topP: 0.9,
        stop: ['END'],
      }),
    );
    const [req] = await ctx.requests();
    expect(decodeURIComponent(req.path)).toBe(
      '/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream',
    );
    const body = req.body as ConverseBody;
    expect(body.system).toEqual([{ text: 'Be terse.' }]);
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { text: 'Weather in Paris and Rome?' },
          { image: { format: 'png', source: { bytes: PNG_BYTES.toString('base64') } } },
        ],
      },
      {
        role: 'assistant',
        content: [
          { text: 'Checking.' },
          { toolUse: { toolUseId: 'tu_1', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'tu_2', name: 'get_weather', input: { city: 'Rome' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tu_1', content: [{ text: '21C' }], status: 'success' } },
          { toolResult: { toolUseId: 'tu_2', content: [{ text: '25C' }], status: 'success' } },
          { text: 'Thanks' },
        ],
      },
    ]);
    expect(body.inferenceConfig).toEqual({
      maxTokens: 100,
      temperature: 0.5,
      topP: 0.9,
      stopSequences: ['END'],
    });
    expect(body.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: 'get_weather',
            description: WEATHER_TOOL.description,
            inputSchema: { json: WEATHER_TOOL.parameters },
          },
        },
      ],
      toolChoice: { tool: { name: 'get_weather' } },
    });
  });

  it('refuses https image URLs (Converse takes bytes only) before calling upstream', async () => {
    const { error } = await collectUntilError(
      ctx.target().provider.stream({
        upstreamModel: 'amazon.nova-pro-v1:0',
        messages: [
          { role: 'user', content: [{ type: 'image', url: 'https://example.com/cat.png' }] },
        ],
      }),
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('unsupported_parameter');
    expect(ctx.sim().stats().started).toBe(0);
  });

  it('sends reasoning effort as a Claude thinking budget and as gpt-oss reasoning_effort; refuses it elsewhere', async () => {
    await collect(
      ctx.target().provider.stream({
        upstreamModel: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
        messages: [{ role: 'user', content: 'think' }],
        reasoningEffort: 'medium',
      }),
    );
    await collect(
      ctx.target().provider.stream({
        upstreamModel: 'openai.gpt-oss-120b-1:0',
        messages: [{ role: 'user', content: 'think' }],
        reasoningEffort: 'high',
      }),
    );
    const [claude, oss] = (await ctx.requests()).map((r) => r.body as ConverseBody);
    expect(claude.additionalModelRequestFields).toEqual({
      thinking: { type: 'enabled', budget_tokens: 8192 },
    });
    expect(claude.inferenceConfig).toEqual({ maxTokens: 8192 + 8192 });
    expect(oss.additionalModelRequestFields).toEqual({ reasoning_effort: 'high' });

    const { error } = await collectUntilError(
      ctx.target().provider.stream({
        upstreamModel: 'us.meta.llama3-3-70b-instruct-v1:0',
        messages: [{ role: 'user', content: 'think' }],
        reasoningEffort: 'low',
      }),
    );
    expect((error as AppError).code).toBe('unsupported_parameter');
  });

  it('sends json_schema as outputConfig.textFormat and refuses json_object', () => {
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    const input = buildConverseRequest({
      upstreamModel: 'm',
      messages: [{ role: 'user', content: 'x' }],
      responseFormat: { type: 'json_schema', name: 'answer', schema },
    });
    expect(input.outputConfig).toEqual({
      textFormat: {
        type: 'json_schema',
        structure: { jsonSchema: { name: 'answer', schema: JSON.stringify(schema) } },
      },
    });
    expect(() =>
      buildConverseRequest({
        upstreamModel: 'm',
        messages: [{ role: 'user', content: 'x' }],
        responseFormat: { type: 'json_object' },
      }),
    ).toThrow(expect.objectContaining({ code: 'unsupported_parameter' }));
  });

  it('uses Converse (not ConverseStream) for tool requests to models without streaming tool use, replayed as events', async () => {
    const events = await collect(
      ctx.target().provider.stream({
        upstreamModel: 'us.meta.llama3-3-70b-instruct-v1:0',
        messages: [{ role: 'user', content: '#sim tool=get_weather args={"city":"Oslo"}' }],
        tools: [WEATHER_TOOL],
      }),
    );
    const [req] = await ctx.requests();
    expect(decodeURIComponent(req.path)).toBe('/model/us.meta.llama3-3-70b-instruct-v1:0/converse');
    expect(toolCallsOf(events)).toEqual([
      { id: expect.any(String), name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
    expect(events.filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('maps tool-use content blocks to 0-based tool indexes with id and name on the start event', async () => {
    const events = await collect(
      ctx.target().provider.stream({
        upstreamModel: 'amazon.nova-lite-v1:0',
        messages: [{ role: 'user', content: '#sim tool=get_weather args={"city":"Oslo"}' }],
        tools: [WEATHER_TOOL],
      }),
    );
    const calls = events.filter((e) => e.type === 'tool_call');
    expect(calls[0]).toEqual({
      type: 'tool_call',
      index: 0,
      id: expect.any(String),
      name: 'get_weather',
    });
    expect(
      calls.slice(1).every((c) => c.type === 'tool_call' && c.index === 0 && c.id === undefined),
    ).toBe(true);
    expect(textOf(events)).toBe('');
  });
});

describe('Bedrock embeddings', () => {
  it('Titan v2: one InvokeModel per text, token counts from the responses, requested dimensions', async () => {
    const texts = ['one two', 'three', 'four five six'];
    const res = await ctx.target().provider.embed!('amazon.titan-embed-text-v2:0', texts, {
      dimensions: 256,
    });
    expect(res.vectors.map((v) => v.length)).toEqual([256, 256, 256]);
    res.vectors[2].forEach((x, j) => expect(x).toBeCloseTo(embedText(texts[2], 256)[j], 6));
    // the simulator counts ceil(chars / 4) per text
    expect(res.inputTokens).toBe(2 + 2 + 4);
    const requests = await ctx.requests();
    expect(requests).toHaveLength(3);
    expect(requests.map((r) => (r.body as { inputText: string }).inputText).sort()).toEqual(
      [...texts].sort(),
    );
    expect(requests[0].body).toMatchObject({ dimensions: 256, normalize: true });
  });

  it('Cohere: batches of at most 96 texts with input_type search_document', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => `document ${i}`);
    const res = await ctx.target().provider.embed!('cohere.embed-multilingual-v3', texts);
    expect(res.vectors).toHaveLength(100);
    res.vectors[99].forEach((x, j) => expect(x).toBeCloseTo(embedText(texts[99], 1024)[j], 6));
    expect(res.inputTokens).toBeGreaterThan(0);
    const bodies = (await ctx.requests()).map(
      (r) => r.body as { texts: string[]; input_type: string },
    );
    expect(bodies.map((b) => b.texts.length)).toEqual([96, 4]);
    expect(bodies.every((b) => b.input_type === 'search_document')).toBe(true);
  });

  it('refuses models it cannot embed with', async () => {
    await expect(ctx.target().provider.embed!('amazon.nova-pro-v1:0', ['x'])).rejects.toMatchObject(
      {
        code: 'unsupported_capability',
      },
    );
  });
});

describe('Bedrock mapping', () => {
  it('usage: inputTokens excludes cache reads and writes, so both are added; cached = cache reads', () => {
    expect(
      usageFromBedrock({
        inputTokens: 10,
        outputTokens: 20,
        totalTokens: 30 + 100 + 5,
        cacheReadInputTokens: 100,
        cacheWriteInputTokens: 5,
      }),
    ).toEqual({ inputTokens: 115, cachedInputTokens: 100, outputTokens: 20, reasoningTokens: 0 });
  });

  it('stop reasons', () => {
    expect(finishFromBedrock('end_turn')).toBe('stop');
    expect(finishFromBedrock('stop_sequence')).toBe('stop');
    expect(finishFromBedrock('max_tokens')).toBe('length');
    expect(finishFromBedrock('tool_use')).toBe('tool_calls');
    expect(finishFromBedrock('content_filtered')).toBe('content_filter');
    expect(finishFromBedrock('guardrail_intervened')).toBe('content_filter');
  });

  it('errors by exception name: throttling and 5xx retryable, validation not, anything mid-stream disconnected', () => {
    const sdk = (name: string, status: number) =>
      Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });
    const check = (e: unknown, after: boolean) => mapBedrockError(e, after) as UpstreamError;
    expect(check(sdk('ThrottlingException', 429), false)).toMatchObject({
      code: 'upstream_rate_limited',
      retryable: true,
    });
    expect(check(sdk('ServiceUnavailableException', 503), false)).toMatchObject({
      code: 'upstream_unavailable',
      retryable: true,
    });
    expect(check(sdk('InternalServerException', 500), false)).toMatchObject({
      code: 'upstream_error',
      retryable: true,
    });
    expect(check(sdk('ModelNotReadyException', 429), false)).toMatchObject({
      code: 'upstream_unavailable',
      retryable: true,
    });
    expect(check(sdk('ValidationException', 400), false)).toMatchObject({
      code: 'invalid_request',
      retryable: false,
    });
    expect(
      check(
        Object.assign(sdk('ValidationException', 400), {
          message: 'Input is too long for requested model.',
        }),
        false,
      ).code,
    ).toBe('context_length_exceeded');
    expect(check(sdk('ThrottlingException', 429), true)).toMatchObject({
      code: 'upstream_disconnected',
      retryable: false,
    });
    expect(check(new Error('socket hang up'), false)).toMatchObject({
      code: 'upstream_unavailable',
      retryable: true,
    });
  });
});

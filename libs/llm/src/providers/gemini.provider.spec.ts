import { GoogleGenAI } from '@google/genai';
import { AppError } from '@switchboard/common';
import type { ChatEvent, ChatMessage } from '../chat.types';
import {
  collect,
  collectUntilError,
  describeProviderContract,
  textOf,
  WEATHER_TOOL,
} from './provider-contract.testing';
import { GeminiProvider } from './gemini.provider';
import {
  buildGeminiRequest,
  figureName,
  finishFromGemini,
  retryDelayFromBody,
  usageFromGemini,
} from './gemini.mapper';

const PNG = 'data:image/png;base64,iVBORw0KGgo=';

const ctx = describeProviderContract('Gemini', (url) => ({
  provider: new GeminiProvider({
    simulated: true,
    client: new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: url } }),
  }),
  protocol: 'gemini',
  chatModel: 'gemini-2.5-flash',
  embeddingModel: 'gemini-embedding-001',
  embeddingDimensions: 3072,
  reportsReasoning: true,
  answersWhole: false,
}));

interface GeminiBody {
  contents: Array<{ role: string; parts: Array<Record<string, unknown>> }>;
  systemInstruction?: { parts: Array<{ text: string }> };
  generationConfig?: Record<string, unknown>;
  tools?: unknown[];
  toolConfig?: unknown;
}

describe('Gemini adapter: request shape on the wire', () => {
  it('sends system as systemInstruction, assistant as role model, tool results as named functionResponse parts', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Paris and Rome?' },
          { type: 'image', url: PNG },
        ],
      },
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'call_0', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'call_1', name: 'get_time', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_0', content: '{"temp_c":21}' },
      { role: 'tool', toolCallId: 'call_1', content: 'noon' },
    ];
    await collect(
      ctx.target().provider.stream({
        upstreamModel: 'gemini-2.5-flash',
        messages,
        tools: [WEATHER_TOOL],
        toolChoice: 'required',
        maxTokens: 50,
        temperature: 0.2,
        topP: 0.9,
        stop: ['END'],
      }),
    );
    const [req] = await ctx.requests();
    expect(decodeURIComponent(req.path)).toBe(
      '/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    const body = req.body as GeminiBody;
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be terse.' }] });
    expect(body.contents).toEqual([
      {
        role: 'user',
        parts: [
          { text: 'Weather in Paris and Rome?' },
          { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
        ],
      },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_time', args: { city: 'Rome' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp_c: 21 } } },
          { functionResponse: { name: 'get_time', response: { result: 'noon' } } },
        ],
      },
    ]);
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: WEATHER_TOOL.description,
            parametersJsonSchema: WEATHER_TOOL.parameters,
          },
        ],
      },
    ]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(body.generationConfig).toMatchObject({
      maxOutputTokens: 50,
      temperature: 0.2,
      topP: 0.9,
      stopSequences: ['END'],
    });
  });

  it('sends https images as fileData, json_schema as responseJsonSchema and reasoning effort as a thinking budget', async () => {
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    await collect(
      ctx.target().provider.stream({
        upstreamModel: 'gemini-2.5-pro',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', url: 'https://example.com/cat.webp' },
              { type: 'text', text: 'what?' },
            ],
          },
        ],
        responseFormat: { type: 'json_schema', name: 'answer', schema },
        reasoningEffort: 'low',
      }),
    );
    const body = (await ctx.requests())[0].body as GeminiBody;
    expect(body.contents[0].parts[0]).toEqual({
      fileData: { fileUri: 'https://example.com/cat.webp', mimeType: 'image/webp' },
    });
    expect(body.generationConfig).toMatchObject({
      responseMimeType: 'application/json',
      responseJsonSchema: schema,
      thinkingConfig: { thinkingBudget: 1024 },
    });
  });

  it('rejects a tool result that answers no earlier call before calling upstream', async () => {
    const { error } = await collectUntilError(
      ctx.target().provider.stream({
        upstreamModel: 'gemini-2.5-flash',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'tool', toolCallId: 'nope', content: 'x' },
        ],
      }),
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_request');
    expect(ctx.sim().stats().started).toBe(0);
  });

  it('gives each whole function call its own index and an id when Gemini sends none', async () => {
    const events = await collect(
      ctx.target().provider.stream({
        upstreamModel: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: '#sim tool=get_weather args={"city":"Oslo"}' }],
        tools: [WEATHER_TOOL],
      }),
    );
    expect(events.filter((e) => e.type === 'tool_call')).toEqual([
      {
        type: 'tool_call',
        index: 0,
        id: 'call_0',
        name: 'get_weather',
        argumentsDelta: '{"city":"Oslo"}',
      },
    ]);
    expect(textOf(events)).toBe('');
  });

  it('embeds in batches of at most 100 texts per batchEmbedContents call', async () => {
    const texts = Array.from({ length: 150 }, (_, i) => `text number ${i}`);
    const res = await ctx.target().provider.embed!('gemini-embedding-001', texts, {
      dimensions: 8,
    });
    expect(res.vectors).toHaveLength(150);
    expect(res.vectors[149]).toHaveLength(8);
    const requests = await ctx.requests();
    expect(requests.map((r) => decodeURIComponent(r.path))).toEqual([
      '/v1/models/gemini-embedding-001:batchEmbedContents',
      '/v1/models/gemini-embedding-001:batchEmbedContents',
    ]);
    expect((requests[0].body as { requests: unknown[] }).requests).toHaveLength(100);
    expect((requests[1].body as { requests: unknown[] }).requests).toHaveLength(50);
  });
});

describe('Gemini mapping', () => {
  it('usage: prompt already includes cached tokens; thoughts are added to candidates as output and reported as reasoning', () => {
    expect(
      usageFromGemini({
        promptTokenCount: 100,
        cachedContentTokenCount: 40,
        candidatesTokenCount: 10,
        thoughtsTokenCount: 25,
      }),
    ).toEqual({ inputTokens: 100, cachedInputTokens: 40, outputTokens: 35, reasoningTokens: 25 });
    expect(usageFromGemini({ promptTokenCount: 5, candidatesTokenCount: 2 })).toEqual({
      inputTokens: 5,
      cachedInputTokens: 0,
      outputTokens: 2,
      reasoningTokens: 0,
    });
  });

  it('finish reasons', () => {
    expect(finishFromGemini('STOP', false)).toBe('stop');
    expect(finishFromGemini('STOP', true)).toBe('tool_calls');
    expect(finishFromGemini('MAX_TOKENS', false)).toBe('length');
    expect(finishFromGemini('SAFETY', false)).toBe('content_filter');
    expect(finishFromGemini('MALFORMED_FUNCTION_CALL', true)).toBe('error');
  });

  it('reads RetryInfo.retryDelay from a 429 body', () => {
    const body = JSON.stringify({
      error: {
        code: 429,
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '19s' }],
      },
    });
    expect(retryDelayFromBody(body)).toBe(19);
    expect(retryDelayFromBody('{}')).toBeUndefined();
  });

  it('maps reasoning effort per model generation and refuses it where unsupported', () => {
    const req = (model: string) =>
      buildGeminiRequest({
        upstreamModel: model,
        messages: [{ role: 'user', content: 'x' }],
        reasoningEffort: 'minimal',
      });
    expect(req('gemini-2.5-flash').config.thinkingConfig).toEqual({ thinkingBudget: 0 });
    expect(req('gemini-2.5-pro').config.thinkingConfig).toEqual({ thinkingBudget: 128 });
    expect(req('gemini-3-pro-preview').config.thinkingConfig).toEqual({ thinkingLevel: 'MINIMAL' });
    expect(() => req('gemini-2.0-flash')).toThrow(
      expect.objectContaining({ code: 'unsupported_parameter' }),
    );
  });
});

describe('Gemini adapter: hosted code execution against the simulator', () => {
  type Status = Extract<ChatEvent, { type: 'status' }>;

  it('offers codeExecution, reports the run as status events and returns figures as artifacts', async () => {
    const events = await collect(
      ctx.target().provider.stream({
        upstreamModel: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'plot\n#sim tokens=4 files=sales.csv,chart.png' }],
        hostedTools: [{ type: 'code_interpreter' }],
      }),
    );
    const [req] = await ctx.requests();
    expect((req.body as GeminiBody).tools).toEqual([{ codeExecution: {} }]);
    const st = events.filter((e): e is Status => e.type === 'status');
    expect(st).toEqual([
      expect.objectContaining({ id: 'code-1', message: 'running code', inProgress: true }),
      expect.objectContaining({ id: 'code-1', message: 'ran code', inProgress: false, ok: true }),
    ]);
    expect(String(st[0].code)).toContain('sales.csv');
    expect(String(st[1].logs)).toContain('saved /mnt/data/chart.png');
    const files = events.flatMap((e) => (e.type === 'artifact' ? [e.artifact] : []));
    expect(files.map((f) => f.name)).toEqual(['figure-1.png']);
    expect([...files[0].data.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(textOf(events).split(' ')).toHaveLength(4);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('names figures by their media type', () => {
    expect(figureName(1, 'image/png')).toBe('figure-1.png');
    expect(figureName(2, 'image/jpeg')).toBe('figure-2.jpg');
    expect(figureName(3, 'image/svg+xml')).toBe('figure-3.svg');
    expect(figureName(4, undefined)).toBe('figure-4.bin');
  });
});

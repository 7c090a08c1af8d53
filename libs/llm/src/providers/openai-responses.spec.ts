import OpenAI from 'openai';
import { AppError } from '@switchboard/common';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import type { ChatEvent, ChatMessage, ProviderChatRequest } from '../chat.types';
import { UpstreamError } from '../upstream-error';
import { createAzureOpenAiProvider } from './azure-openai.provider';
import { OpenAiChatProvider } from './openai-chat.provider';
import { ResponsesEventMapper, buildResponsesParams } from './openai-responses.mapper';
import {
  collect,
  collectUntilError,
  textOf,
  toolCallsOf,
  waitFor,
  WEATHER_TOOL,
} from './provider-contract.testing';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function codeRequest(text: string, extra: Partial<ProviderChatRequest> = {}): ProviderChatRequest {
  return {
    upstreamModel: 'gpt-5-mini',
    messages: [{ role: 'user', content: text }],
    hostedTools: [{ type: 'code_interpreter' }],
    ...extra,
  };
}

type Status = Extract<ChatEvent, { type: 'status' }>;
const statuses = (events: ChatEvent[]) => events.filter((e): e is Status => e.type === 'status');
const artifacts = (events: ChatEvent[]) =>
  events.flatMap((e) => (e.type === 'artifact' ? [e.artifact] : []));

interface Recorded {
  path: string;
  body: Record<string, unknown>;
}

describe('OpenAI adapter over the Responses API (hosted code execution), against the simulator', () => {
  let sim: RunningSimulator;
  let provider: OpenAiChatProvider;
  const requests = async (): Promise<Recorded[]> => {
    const res = await fetch(`${sim.url}/_sim/requests`);
    return ((await res.json()) as { requests: Recorded[] }).requests;
  };
  const make = (over: Partial<ConstructorParameters<typeof OpenAiChatProvider>[0]> = {}) =>
    new OpenAiChatProvider({
      kind: 'openai',
      client: new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-test', maxRetries: 0 }),
      simulated: true,
      ...over,
    });

  beforeAll(async () => {
    sim = await startSimulator();
    provider = make();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('streams the code run as status events, the text, the produced files, exact usage, then finish', async () => {
    const events = await collect(
      provider.stream(codeRequest('Plot the sales\n#sim tokens=6 files=sales.csv,chart.png')),
    );
    const kinds = events.map((e) => e.type);
    // code first, then the answer, then the files, then usage and finish
    expect(kinds.indexOf('status')).toBeLessThan(kinds.indexOf('text'));
    expect(kinds.lastIndexOf('text')).toBeLessThan(kinds.indexOf('artifact'));
    expect(kinds.slice(-2)).toEqual(['usage', 'finish']);

    const [running, ran] = statuses(events);
    expect(running).toMatchObject({ message: 'running code', inProgress: true });
    expect(ran).toMatchObject({ id: running.id, message: 'ran code', inProgress: false, ok: true });
    expect(ran.code).toEqual(expect.stringContaining('sales.csv'));
    expect(textOf(events).split(' ')).toHaveLength(6);

    const files = artifacts(events);
    expect(files.map((f) => f.name)).toEqual(['sales.csv', 'chart.png']);
    expect(Buffer.from(files[0].data).toString('utf8')).toMatch(/,/);
    expect([...files[1].data.subarray(0, 8)]).toEqual(PNG_SIGNATURE);

    const usage = events.find((e) => e.type === 'usage');
    expect(usage).toMatchObject({
      usage: { outputTokens: 6, cachedInputTokens: 0, codeInterpreterSessions: 1 },
    });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });

    const [req] = await requests();
    expect(req.path).toBe('/v1/responses');
    expect(req.body).toMatchObject({
      model: 'gpt-5-mini',
      stream: true,
      tools: [{ type: 'code_interpreter', container: { type: 'auto' } }],
    });
  });

  it('fetches each file at its exact size', async () => {
    const events = await collect(
      provider.stream(codeRequest('#sim tokens=2 files=big.bin filebytes=300000')),
    );
    const [file] = artifacts(events);
    expect(file.data.byteLength).toBe(300_000);
  });

  it('refuses a file over the size cap with a status, keeps the answer and the others', async () => {
    const small = make({ maxArtifactBytes: 1000 });
    const events = await collect(
      small.stream(codeRequest('#sim tokens=3 files=ok.txt,huge.csv filebytes=2000')),
    );
    expect(artifacts(events)).toEqual([]);
    const refused = statuses(events).filter((s) => s.ok === false);
    expect(refused.map((s) => s.message)).toEqual([
      'could not fetch ok.txt: larger than 1000 bytes',
      'could not fetch huge.csv: larger than 1000 bytes',
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('answers without a code run when the model writes no code', async () => {
    const events = await collect(provider.stream(codeRequest('#sim tokens=4 code=0')));
    expect(statuses(events)).toEqual([]);
    expect(artifacts(events)).toEqual([]);
    expect(textOf(events).split(' ')).toHaveLength(4);
  });

  it('maps the conversation to input items: system, user text and image, tool calls and results', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Oslo?' },
          { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
        ],
      },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
      },
      { role: 'tool', toolCallId: 'call_1', content: '{"temp":3}' },
      { role: 'user', content: 'And now a chart.\n#sim tokens=2 code=0' },
    ];
    await collect(provider.stream(codeRequest('', { messages, tools: [WEATHER_TOOL] })));
    const [req] = await requests();
    expect(req.body.input).toEqual([
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'Weather in Oslo?' },
          { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'auto' },
        ],
      },
      {
        type: 'function_call',
        call_id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Oslo"}',
      },
      { type: 'function_call_output', call_id: 'call_1', output: '{"temp":3}' },
      { role: 'user', content: 'And now a chart.\n#sim tokens=2 code=0' },
    ]);
    expect(req.body.tools).toEqual([
      { type: 'code_interpreter', container: { type: 'auto' } },
      {
        type: 'function',
        name: 'get_weather',
        description: WEATHER_TOOL.description,
        parameters: WEATHER_TOOL.parameters,
        strict: false,
      },
    ]);
  });

  it('streams function calls next to the hosted tool, with finish tool_calls', async () => {
    const events = await collect(
      provider.stream(
        codeRequest('#sim tool=get_weather args={"city":"Oslo"} code=0', { tools: [WEATHER_TOOL] }),
      ),
    );
    expect(toolCallsOf(events)).toEqual([
      { id: expect.any(String) as string, name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
  });

  it('reports a cut at max_output_tokens as finish length', async () => {
    const events = await collect(
      provider.stream(codeRequest('#sim tokens=50 code=0', { maxTokens: 20 })),
    );
    expect(textOf(events).split(' ')).toHaveLength(20);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
  });

  it('classifies an upstream 500 before anything streamed as retryable', async () => {
    const { error } = await collectUntilError(provider.stream(codeRequest('#sim fail=500')));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
  });

  it('classifies a connection cut mid-answer as a non-retryable disconnect', async () => {
    const { events, error } = await collectUntilError(
      provider.stream(codeRequest('#sim tokens=20 fail=drop after=3 code=0')),
    );
    expect(textOf(events).split(' ')).toHaveLength(3);
    expect(error).toMatchObject({ code: 'upstream_disconnected', retryable: false });
  });

  it('aborts the upstream call when the subscriber leaves', async () => {
    const sub = provider
      .stream(codeRequest('#sim tokens=1000 tps=50 files=a.csv'))
      .subscribe({ error: () => undefined });
    await waitFor(() => sim.stats().open === 1, 5000);
    sub.unsubscribe();
    await waitFor(() => sim.stats().aborted === 1, 5000);
  });

  const liveUploads = async (): Promise<unknown[]> => {
    const json = (await (await fetch(`${sim.url}/_sim/files`)).json()) as
      { files: unknown[] } | unknown[];
    return Array.isArray(json) ? json : json.files;
  };

  it('uploads hosted files, mounts them in the container by id, and deletes them afterwards', async () => {
    const data = Buffer.from('a,b\n1,2\n');
    const events = await collect(
      provider.stream(codeRequest('#sim tokens=2', { hostedFiles: [{ name: 'in.csv', data }] })),
    );
    const ran = statuses(events).find((e) => e.message === 'ran code')!;
    expect(String(ran.logs)).toContain(`read /mnt/data/in.csv (${data.byteLength} bytes)`);
    const [req] = await requests();
    const tools = req.body.tools as Array<{ container: { file_ids?: string[] } }>;
    expect(tools[0].container.file_ids).toEqual([expect.stringMatching(/^file-/)]);
    expect(await liveUploads()).toEqual([]);
  });

  it('deletes the uploads when the caller leaves mid-answer', async () => {
    const sub = provider
      .stream(
        codeRequest('#sim tokens=1000 tps=50', {
          hostedFiles: [{ name: 'in.csv', data: Buffer.from('x\n') }],
        }),
      )
      .subscribe({ error: () => undefined });
    await waitFor(() => sim.stats().open === 1, 5000);
    expect(await liveUploads()).toHaveLength(1);
    sub.unsubscribe();
    await waitFor(async () => (await liveUploads()).length === 0, 5000);
    expect(await liveUploads()).toEqual([]);
  });

  it('runs the same way on Azure OpenAI (responses and container paths of the resource)', async () => {
    const azure = createAzureOpenAiProvider({
      endpoint: sim.url,
      apiVersion: '2025-04-01-preview',
      apiKey: 'az-key',
      simulated: true,
    });
    const events = await collect(azure.stream(codeRequest('#sim tokens=2 files=t.csv')));
    expect(artifacts(events).map((f) => f.name)).toEqual(['t.csv']);
    const [req] = await requests();
    expect(req.path).toBe('/openai/responses?api-version=2025-04-01-preview');
  });

  it('refuses hosted tools on an OpenAI-compatible server, and stop sequences', async () => {
    const compatible = make({ kind: 'openai-compatible' });
    const { error } = await collectUntilError(compatible.stream(codeRequest('hi')));
    expect(error).toMatchObject({ code: 'unsupported_capability' });
    const { error: stop } = await collectUntilError(
      provider.stream(codeRequest('hi', { stop: ['END'] })),
    );
    expect(stop).toMatchObject({ code: 'unsupported_parameter', extra: { param: 'stop' } });
    expect(sim.stats().started).toBe(0);
  });
});

describe('Responses request and event mapping', () => {
  it('maps options to Responses parameters', () => {
    const p = buildResponsesParams({
      upstreamModel: 'm',
      messages: [{ role: 'user', content: 'x' }],
      hostedTools: [{ type: 'code_interpreter' }],
      maxTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      toolChoice: { name: 'f' },
      reasoningEffort: 'low',
      user: 'u-1',
      responseFormat: { type: 'json_schema', name: 'r', schema: { type: 'object' } },
    });
    expect(p).toMatchObject({
      max_output_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      tool_choice: { type: 'function', name: 'f' },
      reasoning: { effort: 'low' },
      user: 'u-1',
      text: {
        format: { type: 'json_schema', name: 'r', schema: { type: 'object' }, strict: null },
      },
    });
  });

  it('throws on a failed response and on an error event; maps incomplete reasons', () => {
    const m = new ResponsesEventMapper();
    const base = { sequence_number: 1 };
    expect(() =>
      m.map({
        ...base,
        type: 'response.failed',
        response: { error: { code: 'server_error', message: 'boom' } },
      } as never),
    ).toThrow(UpstreamError);
    expect(() =>
      m.map({ ...base, type: 'error', code: 'x', message: 'bad', param: null } as never),
    ).toThrow(AppError);
    m.map({
      ...base,
      type: 'response.incomplete',
      response: { incomplete_details: { reason: 'content_filter' }, usage: null },
    } as never);
    expect(m.finish).toBe('content_filter');
  });
});

import OpenAI, { AzureOpenAI } from 'openai';
import { startSimulator, type RunningSimulator } from './simulator.server';
import { promptTokens, WORDS } from './reply.planner';

describe('OpenAI protocol (real openai client)', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => sim.close());

  it('streams the deterministic words and a usage chunk when include_usage is set', async () => {
    const content = 'hello there\n#sim tokens=5 cached=3 reasoning=2';
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      if (chunk.choices.length > 0) {
        text += chunk.choices[0].delta.content ?? '';
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(WORDS.slice(0, 5).join(' '));
    expect(finish).toBe('stop');
    const prompt = promptTokens([{ role: 'user', text: content }]) + 3;
    expect(usage).toMatchObject({
      prompt_tokens: prompt,
      completion_tokens: 7,
      total_tokens: prompt + 7,
      prompt_tokens_details: { cached_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 2 },
    });
  });

  it('omits usage from a stream without include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      WORDS.slice(0, 12).join(' '),
    );
  });

  it('answers non-streaming requests with the same text and usage', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: '#sim text=ok tokens=3' },
      ],
    });
    expect(res.choices[0].message.content).toBe('ok ok ok');
    expect(res.choices[0].finish_reason).toBe('stop');
    // ceil((8 + 21) / 4) + 2 messages * 4
    expect(res.usage?.prompt_tokens).toBe(16);
    expect(res.usage?.completion_tokens).toBe(3);
  });

  it('caps output at max_tokens with finish_reason length', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      max_tokens: 4,
      messages: [{ role: 'user', content: '#sim tokens=10' }],
    });
    expect(res.choices[0].finish_reason).toBe('length');
    expect(res.usage?.completion_tokens).toBe(4);
  });

  it('streams a tool call, then answers the tool result with text that quotes it', async () => {
    const user = '#sim tool=get_weather args={"city":"Paris","unit":"c"}';
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
    ];
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: user }],
      tools,
      stream: true,
    });
    let id = '';
    let name = '';
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const call of choice?.delta.tool_calls ?? []) {
        expect(call.index).toBe(0);
        id = call.id ?? id;
        name = call.function?.name ?? name;
        args += call.function?.arguments ?? '';
      }
      finish = choice?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Paris', unit: 'c' });
    expect(finish).toBe('tool_calls');

    const toolResult = `{"temp":21,"sky":"clear"}${'x'.repeat(300)}`;
    const answer = await client.chat.completions.create({
      model: 'gpt-4o',
      tools,
      messages: [
        { role: 'user', content: user },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name, arguments: args } }],
        },
        { role: 'tool', tool_call_id: id, content: toolResult },
      ],
    });
    expect(answer.choices[0].finish_reason).toBe('stop');
    expect(answer.choices[0].message.content).toContain(toolResult.slice(0, 200));
    expect(answer.choices[0].message.content).not.toContain(toolResult.slice(0, 201));
  });

  it('calls the tool again after its result when loop=1', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: '#sim tool=search args={"q":"x"} loop=1' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'search', arguments: '{"q":"x"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'found' },
      ],
    });
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(res.choices[0].message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'search', arguments: '{"q":"x"}' },
    });
  });

  it('echoes the prompt when echo=1', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Context: alpha beta\n#sim echo=1' }] },
      ],
    });
    expect(res.choices[0].message.content).toBe('You are terse.\nContext: alpha beta\n#sim echo=1');
  });

  it('finds a #sim line in its own content part and returns a request id', async () => {
    const { data, request_id } = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Some context' },
              { type: 'text', text: '#sim tokens=2' },
            ],
          },
        ],
      })
      .withResponse();
    expect(data.usage?.completion_tokens).toBe(2);
    // Parts of one message are joined by a newline: 'Some context\n#sim tokens=2' is 26 chars.
    expect(data.usage?.prompt_tokens).toBe(Math.ceil(26 / 4) + 4);
    expect(request_id).toMatch(/^req_/);
  });

  it('returns deterministic, normalised embeddings honouring dimensions (base64 and float)', async () => {
    const a = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['the cat sat', 'the cat sat'],
    });
    expect(a.data).toHaveLength(2);
    expect(a.data[0].embedding).toHaveLength(1536);
    expect(a.data[0].embedding).toEqual(a.data[1].embedding);
    const norm = Math.sqrt(a.data[0].embedding.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);

    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['the cat sat', 'a cat ran home', 'quantum chromodynamics'],
      dimensions: 256,
      encoding_format: 'float',
    });
    const [x, y, z] = floats.data.map((d) => d.embedding);
    expect(x).toHaveLength(256);
    const cos = (p: number[], q: number[]): number => p.reduce((s, v, i) => s + v * q[i], 0);
    expect(cos(x, y)).toBeGreaterThan(0);
    expect(cos(x, y)).toBeGreaterThan(cos(x, z));
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('lists models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('gpt-4o-mini');
  });

  it('rejects a request without a bearer token in OpenAI error shape', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_api_key' },
    });
  });
});

describe('Azure OpenAI protocol (real AzureOpenAI client)', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });
  afterAll(() => sim.close());

  it('serves deployment-scoped chat (stream and non-stream) and embeddings with the api-key header', async () => {
    const azure = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'azure-key',
      apiVersion: '2024-10-21',
      deployment: 'my-gpt4o',
      maxRetries: 0,
    });
    const res = await azure.chat.completions.create({
      model: 'ignored',
      messages: [{ role: 'user', content: '#sim tokens=2' }],
    });
    expect(res.model).toBe('my-gpt4o');
    expect(res.choices[0].message.content).toBe(WORDS.slice(0, 2).join(' '));

    const stream = await azure.chat.completions.create({
      model: 'ignored',
      messages: [{ role: 'user', content: '#sim tokens=3' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let completion = 0;
    let first: unknown;
    for await (const chunk of stream) {
      first ??= chunk;
      text += chunk.choices[0]?.delta.content ?? '';
      completion = chunk.usage?.completion_tokens ?? completion;
    }
    expect(text).toBe(WORDS.slice(0, 3).join(' '));
    expect(completion).toBe(3);
    // Azure's content-filter preamble: a chunk with no choices.
    expect(first).toMatchObject({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] });

    const emb = await azure.embeddings.create({ model: 'ignored', input: 'hello', dimensions: 8 });
    expect(emb.data[0].embedding).toHaveLength(8);

    const log = (await (await fetch(`${sim.url}/_sim/requests?limit=3`)).json()) as {
      requests: { protocol: string; path: string }[];
    };
    expect(log.requests.map((r) => r.protocol)).toEqual(['azure', 'azure', 'azure']);
    expect(log.requests[0].path).toBe(
      '/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21',
    );
  });

  it('accepts the /openai/v1 path', async () => {
    const client = new OpenAI({ apiKey: 'k', baseURL: `${sim.url}/openai/v1`, maxRetries: 0 });
    const res = await client.chat.completions.create({
      model: 'dep',
      messages: [{ role: 'user', content: '#sim tokens=1 text=yes' }],
    });
    expect(res.choices[0].message.content).toBe('yes');
  });
});

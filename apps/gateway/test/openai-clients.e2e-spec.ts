import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { ADMIN_KEY, startHarness, type Harness } from './gateway.harness';

/**
 * Real client libraries against the gateway in simulated mode, on the shipped
 * catalogue, so every provider path (OpenAI, Azure OpenAI, Bedrock Converse,
 * Gemini) serves the Responses API: the official `openai` client, the AI SDK's
 * default OpenAI provider (which speaks /v1/responses) and LangChain's ChatOpenAI.
 */
const MODELS = [
  ['gpt-4o-mini', 'openai'],
  ['azure-gpt-4o-mini', 'azure'],
  ['bedrock-claude-haiku-4-5', 'bedrock'],
  ['gemini-2.5-flash', 'gemini'],
] as const;

const weather: { type: 'object'; [k: string]: unknown } = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
};

describe('OpenAI client libraries through the gateway', () => {
  let h: Harness;
  let client: OpenAI;

  const lastProtocol = async () => {
    const seen = (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
      requests: Array<{ protocol: string }>;
    };
    return seen.requests[0]?.protocol;
  };

  beforeAll(async () => {
    h = await startHarness({ MODELS_FILE: '' });
    client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${h.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  describe.each(MODELS)('openai responses API on %s (%s)', (model, protocol) => {
    it('responses.stream yields text and usage', async () => {
      const stream = client.responses.stream({ model, input: 'Hello\n#sim tokens=6' });
      let text = '';
      stream.on('response.output_text.delta', (e) => (text += e.delta));
      const final = await stream.finalResponse();
      expect(final.status).toBe('completed');
      expect(final.output_text).toBe(text);
      expect(text.trim().split(/\s+/)).toHaveLength(6);
      expect(final.usage?.output_tokens).toBe(6);
      expect(await lastProtocol()).toBe(protocol);
    });

    it('a function tool round trip with previous_response_id', async () => {
      const tools: OpenAI.Responses.FunctionTool[] = [
        { type: 'function', name: 'get_weather', parameters: weather, strict: true },
      ];
      const first = await client.responses.create({
        model,
        tools,
        input: 'Weather in Paris?\n#sim tool=get_weather args={"city":"Paris"}',
      });
      const call = first.output.find(
        (o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call',
      );
      expect(call).toMatchObject({ name: 'get_weather' });
      expect(JSON.parse(call!.arguments)).toEqual({ city: 'Paris' });
      const second = await client.responses.create({
        model,
        tools,
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call!.call_id, output: 'sunny, 21C' }],
      });
      expect(second.output_text).toMatch(/^Tool get_weather returned: .*sunny, 21C/);
    });
  });

  it('AI SDK default provider: streamText over /v1/responses', async () => {
    const urls: string[] = [];
    const openai = createOpenAI({
      baseURL: `${h.url}/v1`,
      apiKey: ADMIN_KEY,
      fetch: (url, init) => {
        urls.push(url instanceof Request ? url.url : url.toString());
        return fetch(url, init);
      },
    });
    const result = streamText({ model: openai('gpt-4o-mini'), prompt: 'Hi\n#sim tokens=5' });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text.trim().split(/\s+/)).toHaveLength(5);
    expect((await result.usage).outputTokens).toBe(5);
    expect(await result.finishReason).toBe('stop');
    expect(urls).toEqual([`${h.url}/v1/responses`]);
  });

  it.each(MODELS)('AI SDK default provider: generateText with a tool on %s', async (model) => {
    const openai = createOpenAI({ baseURL: `${h.url}/v1`, apiKey: ADMIN_KEY });
    const calls: unknown[] = [];
    const result = await generateText({
      model: openai(model),
      prompt: 'Weather in Rome?\n#sim tool=get_weather args={"city":"Rome"}',
      tools: {
        get_weather: tool({
          description: 'Weather of a city',
          inputSchema: jsonSchema<{ city: string }>(weather),
          execute: ({ city }) => {
            calls.push(city);
            return Promise.resolve(`cloudy in ${city}`);
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(calls).toEqual(['Rome']);
    expect(result.steps).toHaveLength(2);
    // the second step answered the tool result (Gemini wraps it in {"result": ...})
    expect(result.text).toMatch(/^Tool get_weather returned: .*cloudy in Rome/);
  });

  it('LangChain ChatOpenAI streams (chat completions)', async () => {
    const llm = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: ADMIN_KEY,
      configuration: { baseURL: `${h.url}/v1` },
      streaming: true,
      maxRetries: 0,
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of await llm.stream('Hello\n#sim tokens=7')) {
      text += typeof chunk.content === 'string' ? chunk.content : '';
      chunks++;
    }
    expect(text.trim().split(/\s+/)).toHaveLength(7);
    expect(chunks).toBeGreaterThanOrEqual(7);
  });

  it('LangChain ChatOpenAI streams over the Responses API', async () => {
    const llm = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: ADMIN_KEY,
      configuration: { baseURL: `${h.url}/v1` },
      useResponsesApi: true,
      maxRetries: 0,
    });
    let text = '';
    for await (const chunk of await llm.stream('Hello\n#sim tokens=4')) {
      const c = chunk.content;
      text +=
        typeof c === 'string' ? c : c.map((p) => ('text' in p ? String(p.text) : '')).join('');
    }
    expect(text.trim().split(/\s+/)).toHaveLength(4);
  });
});

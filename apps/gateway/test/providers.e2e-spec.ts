import OpenAI from 'openai';
import { ADMIN_KEY, auth, postJson, readSse, startHarness, type Harness } from './gateway.harness';

/**
 * Every provider through the gateway, on the shipped catalogue in simulated mode:
 * the official openai client talks to the gateway, the gateway talks to the
 * simulator through each provider's real SDK (openai, AzureOpenAI, Bedrock
 * Converse, @google/genai).
 */
const MODELS = [
  ['gpt-4o-mini', 'openai'],
  ['azure-gpt-4o-mini', 'azure-openai'],
  ['bedrock-claude-haiku-4-5', 'bedrock'],
  ['bedrock-gpt-oss-120b', 'bedrock'],
  ['gemini-2.5-flash', 'gemini'],
] as const;

interface Pricing {
  input: number;
  cachedInput: number;
  output: number;
}

describe('all providers through /v1/chat/completions and /chat', () => {
  let h: Harness;
  let client: OpenAI;
  const pricing = new Map<string, Pricing>();

  beforeAll(async () => {
    h = await startHarness({ MODELS_FILE: '' });
    client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${h.url}/v1`, maxRetries: 0 });
    const models = (await (await fetch(`${h.url}/v1/models`, { headers: auth })).json()) as {
      data: Array<{ id: string; provider: string; pricing?: Pricing }>;
    };
    for (const m of models.data) if (m.pricing) pricing.set(m.id, m.pricing);
  });
  afterAll(() => h.close());

  it.each(MODELS)(
    '%s streams through the openai client (routed to %s)',
    async (model, provider) => {
      h.sim.reset();
      const stream = await client.chat.completions.create({
        model,
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello\n#sim tokens=6' },
        ],
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? '';
        if (c.usage) usage = c.usage;
      }
      expect(text.trim().split(/\s+/)).toHaveLength(6);
      expect(usage?.completion_tokens).toBe(6);
      const seen = (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
        requests: Array<{ protocol: string }>;
      };
      const protocol = {
        openai: 'openai',
        'azure-openai': 'azure',
        bedrock: 'bedrock',
        gemini: 'gemini',
      }[provider];
      expect(seen.requests[0].protocol).toBe(protocol);
    },
  );

  it.each(MODELS)('%s: a tool-call round trip works', async (model) => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const user = {
      role: 'user' as const,
      content: 'Weather in Paris?\n#sim tool=get_weather args={"city":"Paris"}',
    };
    const first = await client.chat.completions.create({ model, tools, messages: [user] });
    const call = first.choices[0].message.tool_calls?.[0];
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '{}')).toEqual({
      city: 'Paris',
    });
    const second = await client.chat.completions.create({
      model,
      tools,
      messages: [
        user,
        { role: 'assistant', content: null, tool_calls: first.choices[0].message.tool_calls },
        { role: 'tool', tool_call_id: call!.id, content: '{"tempC":21,"sky":"clear"}' },
      ],
    });
    expect(second.choices[0].message.content).toContain('get_weather');
    expect(second.choices[0].message.content).toContain('21');
  });

  it.each(MODELS)(
    '%s: usage in the end frame is mapped exactly and priced from the catalogue',
    async (model, provider) => {
      const res = await postJson(`${h.url}/chat`, {
        messages: [{ role: 'user', content: 'Hello\n#sim tokens=6 cached=3 reasoning=2' }],
        options: { model: { id: model } },
      });
      expect(res.status).toBe(200);
      let end:
        | {
            usage: {
              inputTokens: number;
              cachedInputTokens: number;
              outputTokens: number;
              reasoningTokens: number;
              costMicros: number;
              estimated: boolean;
            };
          }
        | undefined;
      for await (const f of readSse(res))
        if (f.data) {
          const j = JSON.parse(f.data) as { s: string };
          if (j.s === 'result') end = j as unknown as typeof end;
        }
      const u = end!.usage;
      expect(u.estimated).toBe(false);
      expect(u.cachedInputTokens).toBe(3);
      expect(u.inputTokens).toBeGreaterThan(3);
      // output includes reasoning for every provider; Bedrock reports no reasoning split
      expect(u.outputTokens).toBe(8);
      expect(u.reasoningTokens).toBe(provider === 'bedrock' ? 0 : 2);
      const p = pricing.get(model)!;
      const expected = Math.ceil(
        (u.inputTokens - u.cachedInputTokens) * p.input +
          u.cachedInputTokens * p.cachedInput +
          u.outputTokens * p.output -
          1e-9,
      );
      expect(Math.abs(u.costMicros - expected)).toBeLessThanOrEqual(1);
    },
  );
});

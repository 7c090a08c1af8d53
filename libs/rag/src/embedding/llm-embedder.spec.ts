import { LlmService, OpenAiChatProvider, type CatalogueModel } from '@switchboard/llm';
import { type RunningSimulator, embedText, startSimulator } from '@switchboard/simulator';
import OpenAI from 'openai';
import { LlmEmbedder } from './embedder.port';

const model: CatalogueModel = {
  id: 'text-embedding-3-small',
  provider: 'openai',
  upstreamModel: 'text-embedding-3-small',
  contextWindow: 8191,
  maxOutputTokens: 0,
  pricing: { input: 0.02, cachedInput: 0.02, output: 0, checked: '2025-01-01' },
  capabilities: ['embeddings'],
};

describe('LlmEmbedder (through the OpenAI SDK against the simulator)', () => {
  let sim: RunningSimulator;
  let llm: LlmService;

  beforeAll(async () => {
    sim = await startSimulator();
    const client = new OpenAI({ apiKey: 'simulated', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    llm = new LlmService(
      [model],
      [new OpenAiChatProvider({ kind: 'openai', client, simulated: true })],
    );
  });
  afterAll(() => sim.close());

  it('embeds in batches with the configured dimensions, in input order', async () => {
    const embedder = new LlmEmbedder(llm, 'text-embedding-3-small', 32, 2);
    const texts = ['alpha beta', 'gamma', 'delta epsilon', 'zeta', 'eta'];
    sim.reset();
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(5);
    vectors.forEach((v, i) => {
      expect(v).toHaveLength(32);
      const want = Array.from(embedText(texts[i], 32));
      v.forEach((x, j) => expect(x).toBeCloseTo(want[j], 5));
    });
    const log = (await (await fetch(`${sim.url}/_sim/requests`)).json()) as {
      requests: Array<{ path: string; body: { input: string[]; dimensions: number } }>;
    };
    const calls = log.requests.filter((r) => r.path.endsWith('/embeddings'));
    expect(calls.map((c) => c.body.input)).toEqual([
      ['alpha beta', 'gamma'],
      ['delta epsilon', 'zeta'],
      ['eta'],
    ]);
    expect(calls.every((c) => c.body.dimensions === 32)).toBe(true);
  });

  it('fails clearly for an unknown model', async () => {
    await expect(new LlmEmbedder(llm, 'nope', 32).embed(['x'])).rejects.toMatchObject({
      code: 'model_not_found',
    });
  });
});

import { loadConfig } from '@switchboard/config';
import {
  startSimulator,
  type RecordedRequest,
  type RunningSimulator,
} from '@switchboard/simulator';
import { loadCatalogue } from '../catalogue/model-catalogue';
import { LlmService } from '../llm.service';
import { collect, textOf } from './provider-contract.testing';
import { createProviders } from './provider-factory';

describe('createProviders', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const requests = async (): Promise<RecordedRequest[]> =>
    ((await (await fetch(`${sim.url}/_sim/requests`)).json()) as { requests: RecordedRequest[] })
      .requests;

  it('registers every provider kind against the simulator in simulated mode', () => {
    const providers = createProviders(loadConfig({}), { simulatorUrl: sim.url });
    expect(providers.map((p) => [p.kind, p.name, p.simulated])).toEqual([
      ['openai', 'openai', true],
      ['azure-openai', 'azure-openai', true],
      ['bedrock', 'bedrock', true],
      ['gemini', 'gemini', true],
    ]);
  });

  it('registers only configured providers otherwise', () => {
    expect(createProviders(loadConfig({})).map((p) => p.kind)).toEqual([]);
    const providers = createProviders(
      loadConfig({
        GEMINI_API_KEY: 'g',
        BEDROCK_ENABLED: 'true',
        AWS_REGION: 'eu-west-1',
        AZURE_OPENAI_ENDPOINT: 'https://example.openai.azure.com',
        AZURE_OPENAI_API_KEY: 'a',
      }),
    );
    expect(providers.map((p) => [p.kind, p.simulated])).toEqual([
      ['azure-openai', false],
      ['bedrock', false],
      ['gemini', false],
    ]);
  });

  it('refuses an Azure endpoint without an API key (Entra ID is not supported)', () => {
    expect(() =>
      createProviders(loadConfig({ AZURE_OPENAI_ENDPOINT: 'https://example.openai.azure.com' })),
    ).toThrow(/AZURE_OPENAI_API_KEY/);
  });

  it('routes by the catalogue provider field: bedrock-gpt-oss-120b goes to Bedrock despite "gpt" in its id', async () => {
    const llm = new LlmService(
      loadCatalogue(),
      createProviders(loadConfig({}), { simulatorUrl: sim.url }),
    );
    const model = llm.resolve('bedrock-gpt-oss-120b');
    expect(model.provider).toBe('bedrock');
    expect(llm.providerFor(model).kind).toBe('bedrock');

    const events = await collect(
      llm.stream(model, { messages: [{ role: 'user', content: '#sim tokens=3' }] }),
    );
    expect(textOf(events)).toBe('The quick brown');
    const [req] = await requests();
    expect(req.protocol).toBe('bedrock');
    expect(decodeURIComponent(req.path)).toBe('/model/openai.gpt-oss-120b-1:0/converse-stream');
  });

  it('serves every default catalogue entry in simulated mode, each through its own provider kind', () => {
    const catalogue = loadCatalogue();
    const llm = new LlmService(
      catalogue,
      createProviders(loadConfig({}), { simulatorUrl: sim.url }),
    );
    expect(llm.models().map((m) => m.id)).toEqual(catalogue.map((m) => m.id));
    for (const m of llm.models()) expect(llm.providerFor(m).kind).toBe(m.provider);
    expect(new Set(catalogue.map((m) => m.provider))).toEqual(
      new Set(['openai', 'azure-openai', 'bedrock', 'gemini']),
    );
  });
});

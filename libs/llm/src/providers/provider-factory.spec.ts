import { loadConfig } from '@switchboard/config';
import {
  startSimulator,
  type RecordedRequest,
  type RunningSimulator,
} from '@switchboard/simulator';
import { loadCatalogue } from '../catalogue/model-catalogue';
import { LlmService } from '../llm.service';
import { collect, textOf } from './provider-contract.testing';
import { createProviders, startProvider } from './provider-factory';
import { SDK_ENV_VARIABLES } from './sdk-env';

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

  describe("settings come only from Switchboard's configuration", () => {
    const hostile: Record<string, string> = {
      // a proxy meant for another tool, and variables that would redirect an SDK
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      OPENAI_API_KEY: 'sk-not-ours',
      OPENAI_ORG_ID: 'org-not-ours',
      OPENAI_CUSTOM_HEADERS: 'x-leak: 1',
      OPENAI_API_VERSION: '1999-01-01',
      AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9',
      GOOGLE_GENAI_USE_VERTEXAI: 'true',
      GOOGLE_CLOUD_PROJECT: 'not-ours',
      GOOGLE_CLOUD_LOCATION: 'us-central1',
      GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'http://127.0.0.1:9',
    };
    let saved: Record<string, string | undefined>;
    beforeEach(() => {
      saved = Object.fromEntries(Object.keys(hostile).map((k) => [k, process.env[k]]));
      Object.assign(process.env, hostile);
    });
    afterEach(() => {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    });

    it('Azure boots while OPENAI_BASE_URL is set, and every provider reaches its configured endpoint', async () => {
      const llm = new LlmService(
        loadCatalogue(),
        createProviders(loadConfig({}), { simulatorUrl: sim.url }),
      );
      const protocols: Record<string, string> = {
        'gpt-4o-mini': 'openai',
        'azure-gpt-4o-mini': 'azure',
        'bedrock-claude-haiku-4-5': 'bedrock',
        'gemini-2.5-flash': 'gemini',
      };
      for (const [id, protocol] of Object.entries(protocols)) {
        sim.reset();
        const events = await collect(
          llm.stream(llm.resolve(id), { messages: [{ role: 'user', content: '#sim tokens=2' }] }),
        );
        expect([id, textOf(events)]).toEqual([id, 'The quick']);
        const [req] = await requests();
        expect([id, req.protocol]).toEqual([id, protocol]);
      }
      // the variables are back once the clients are built
      for (const [k, v] of Object.entries(hostile)) expect(process.env[k]).toBe(v);
    });

    it('real (non-simulated) Azure, OpenAI and Gemini clients build with those variables set', () => {
      const providers = createProviders(
        loadConfig({
          OPENAI_API_KEY: 'sk-ours',
          AZURE_OPENAI_ENDPOINT: 'https://ours.openai.azure.com',
          AZURE_OPENAI_API_KEY: 'a',
          GEMINI_API_KEY: 'g',
          BEDROCK_ENABLED: 'true',
          AWS_REGION: 'eu-west-1',
        }),
      );
      expect(providers.map((p) => p.kind)).toEqual(['openai', 'azure-openai', 'bedrock', 'gemini']);
    });

    it('lists the variables it hides', () => {
      for (const k of ['OPENAI_BASE_URL', 'AZURE_OPENAI_ENDPOINT', 'GOOGLE_GENAI_USE_VERTEXAI'])
        expect(SDK_ENV_VARIABLES).toContain(k);
    });
  });

  it('a provider that cannot start is named in the boot error', () => {
    expect(() =>
      startProvider('azure-openai', 'AZURE_OPENAI_*', () => {
        throw new Error('bad endpoint');
      }),
    ).toThrow(/AZURE_OPENAI_\*: the azure-openai provider could not start: bad endpoint/);
  });
});

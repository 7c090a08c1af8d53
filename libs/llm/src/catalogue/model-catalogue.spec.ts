import { loadCatalogue, parseCatalogue } from './model-catalogue';

const model = (over: Record<string, unknown>) => ({
  id: 'm',
  provider: 'openai',
  upstreamModel: 'm-up',
  contextWindow: 1000,
  maxOutputTokens: 100,
  pricing: { input: 1, cachedInput: 0.5, output: 2, checked: '2026-01-01' },
  capabilities: ['chat', 'streaming'],
  ...over,
});

describe('model catalogue: hosted code execution', () => {
  it('accepts code_interpreter and a container session price on OpenAI, Azure OpenAI and Gemini models', () => {
    const [openai, azure] = parseCatalogue(
      {
        models: [
          model({
            capabilities: ['chat', 'code_interpreter'],
            pricing: {
              input: 1,
              cachedInput: 0.5,
              output: 2,
              codeInterpreterSession: 0.03,
              checked: '2026-01-01',
            },
          }),
          model({ id: 'az', provider: 'azure-openai', capabilities: ['chat', 'code_interpreter'] }),
          model({ id: 'gem', provider: 'gemini', capabilities: ['chat', 'code_interpreter'] }),
        ],
      },
      'test',
    );
    expect(openai.pricing.codeInterpreterSession).toBe(0.03);
    expect(azure.capabilities).toContain('code_interpreter');
  });

  it.each(['bedrock', 'openai-compatible'])(
    'refuses code_interpreter on a %s model, naming the field',
    (provider) => {
      expect(() =>
        parseCatalogue(
          { models: [model({ provider, capabilities: ['chat', 'code_interpreter'] })] },
          'test',
        ),
      ).toThrow(/capabilities.*code_interpreter needs hosted code execution/s);
    },
  );

  it('prices the default catalogue OpenAI code-interpreter models per container session', () => {
    const coders = loadCatalogue().filter(
      (m) => m.provider === 'openai' && m.capabilities.includes('code_interpreter'),
    );
    expect(coders.length).toBeGreaterThan(0);
    for (const m of coders) expect(m.pricing.codeInterpreterSession).toBeGreaterThan(0);
  });
});

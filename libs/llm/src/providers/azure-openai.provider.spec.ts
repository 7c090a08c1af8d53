import { collect, describeProviderContract, textOf } from './provider-contract.testing';
import { createAzureOpenAiProvider } from './azure-openai.provider';

const ctx = describeProviderContract('Azure OpenAI', (url) => ({
  provider: createAzureOpenAiProvider({
    endpoint: url,
    apiVersion: '2024-10-21',
    apiKey: 'test-key',
    simulated: true,
  }),
  protocol: 'azure',
  chatModel: 'gpt-4o-mini',
  embeddingModel: 'text-embedding-3-small',
  embeddingDimensions: 1536,
  reportsReasoning: true,
  answersWhole: true,
}));

describe('Azure OpenAI adapter', () => {
  it('has kind azure-openai and sends the upstream model as the deployment, with the api-version', async () => {
    const provider = ctx.target().provider;
    expect(provider.kind).toBe('azure-openai');
    const events = await collect(
      provider.stream({
        upstreamModel: 'my-deployment',
        messages: [{ role: 'user', content: '#sim tokens=2' }],
      }),
    );
    expect(textOf(events)).toBe('The quick');
    const [req] = await ctx.requests();
    expect(req.protocol).toBe('azure');
    expect(req.path).toBe(
      '/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21',
    );
  });

  it('embeds through the deployment-scoped embeddings path', async () => {
    await ctx.target().provider.embed!('embed-deployment', ['one']);
    const [req] = await ctx.requests();
    expect(req.path).toBe('/openai/deployments/embed-deployment/embeddings?api-version=2024-10-21');
  });
});

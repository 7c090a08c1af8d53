import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
} from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import type { AppConfig } from '@switchboard/config';
import OpenAI from 'openai';
import type { LlmProvider } from '../provider.port';
import { createAzureOpenAiProvider } from './azure-openai.provider';
import { BedrockProvider } from './bedrock.provider';
import { GeminiProvider } from './gemini.provider';
import { OpenAiChatProvider } from './openai-chat.provider';

const DEFAULT_AZURE_API_VERSION = '2024-10-21';

/** The gateway owns retries, so every SDK makes exactly one attempt. */
function bedrockClient(config: BedrockRuntimeClientConfig): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ ...config, maxAttempts: 1 });
}

export interface ProviderEndpoints {
  /** when set, every provider talks to this simulator instead of the real service */
  simulatorUrl?: string;
}

/** True when no real provider credentials are configured. */
export function hasProviderCredentials(config: AppConfig): boolean {
  const l = config.llm;
  return Boolean(l.openai || l.openaiCompatible || l.azure || l.gemini || l.bedrock);
}

/**
 * Registers one adapter per configured provider. In simulated mode every adapter
 * talks to the simulator over real HTTP through its real SDK, so the demo path is
 * the production path.
 */
export function createProviders(
  config: AppConfig,
  endpoints: ProviderEndpoints = {},
): LlmProvider[] {
  const sim = endpoints.simulatorUrl;
  const providers: LlmProvider[] = [];
  const common = { maxRetries: 0, timeout: 10 * 60 * 1000 };

  if (sim) {
    providers.push(
      new OpenAiChatProvider({
        kind: 'openai',
        simulated: true,
        client: new OpenAI({ ...common, apiKey: 'simulated', baseURL: `${sim}/v1` }),
      }),
      createAzureOpenAiProvider({
        endpoint: sim,
        apiVersion: config.llm.azure?.apiVersion ?? DEFAULT_AZURE_API_VERSION,
        apiKey: 'simulated',
        simulated: true,
      }),
      new BedrockProvider({
        simulated: true,
        client: bedrockClient({
          region: 'us-east-1',
          endpoint: sim,
          credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' },
        }),
      }),
      new GeminiProvider({
        simulated: true,
        client: new GoogleGenAI({ apiKey: 'simulated', httpOptions: { baseUrl: sim } }),
      }),
    );
    return providers;
  }

  if (config.llm.openai) {
    providers.push(
      new OpenAiChatProvider({
        kind: 'openai',
        client: new OpenAI({
          ...common,
          apiKey: config.llm.openai.apiKey.reveal(),
          baseURL: config.llm.openai.baseUrl,
        }),
      }),
    );
  }
  if (config.llm.openaiCompatible) {
    providers.push(
      new OpenAiChatProvider({
        kind: 'openai-compatible',
        client: new OpenAI({
          ...common,
          apiKey: config.llm.openaiCompatible.apiKey?.reveal() ?? 'none',
          baseURL: config.llm.openaiCompatible.baseUrl,
        }),
      }),
    );
  }
  if (config.llm.azure) {
    const azure = config.llm.azure;
    if (!azure.apiKey)
      // Entra ID tokens need @azure/identity, which is not part of this build.
      throw new Error(
        'AZURE_OPENAI_API_KEY: required when AZURE_OPENAI_ENDPOINT is set (Entra ID auth is not supported)',
      );
    providers.push(
      createAzureOpenAiProvider({
        endpoint: azure.endpoint,
        apiVersion: azure.apiVersion,
        apiKey: azure.apiKey.reveal(),
      }),
    );
  }
  if (config.llm.bedrock) {
    // Credentials come from the standard AWS chain (env, profile, ECS task role...).
    const bedrock = config.llm.bedrock;
    providers.push(
      new BedrockProvider({
        client: bedrockClient({
          region: bedrock.region,
          ...(bedrock.endpoint ? { endpoint: bedrock.endpoint } : {}),
        }),
      }),
    );
  }
  if (config.llm.gemini) {
    const gemini = config.llm.gemini;
    providers.push(
      new GeminiProvider({
        client: new GoogleGenAI({
          apiKey: gemini.apiKey.reveal(),
          ...(gemini.baseUrl ? { httpOptions: { baseUrl: gemini.baseUrl } } : {}),
        }),
      }),
    );
  }
  return providers;
}

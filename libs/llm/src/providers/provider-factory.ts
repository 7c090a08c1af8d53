import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
} from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { ConfigError, type AppConfig } from '@switchboard/config';
import OpenAI from 'openai';
import type { LlmProvider } from '../provider.port';
import { createAzureOpenAiProvider } from './azure-openai.provider';
import { BedrockProvider } from './bedrock.provider';
import { GeminiProvider } from './gemini.provider';
import { OpenAiChatProvider } from './openai-chat.provider';
import { withoutSdkEnv } from './sdk-env';

const DEFAULT_AZURE_API_VERSION = '2024-10-21';

const OPENAI_BASE_URL = 'https://api.openai.com/v1';
const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/';
const GEMINI_API_VERSION = 'v1beta';

/**
 * The gateway owns retries, so every SDK makes exactly one attempt. The endpoint
 * is BEDROCK_ENDPOINT or the region's, never AWS_ENDPOINT_URL*.
 */
function bedrockClient(config: BedrockRuntimeClientConfig): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    ...config,
    maxAttempts: 1,
    ignoreConfiguredEndpointUrls: true,
  });
}

/** Settings the `openai` client would otherwise read from OPENAI_* variables. */
const OPENAI_EXPLICIT = {
  organization: null,
  project: null,
  webhookSecret: null,
  adminAPIKey: null,
  logLevel: 'warn',
} as const;

function openAiClient(apiKey: string, baseURL: string): OpenAI {
  return withoutSdkEnv(
    () =>
      new OpenAI({ ...OPENAI_EXPLICIT, maxRetries: 0, timeout: 10 * 60 * 1000, apiKey, baseURL }),
  );
}

function geminiClient(apiKey: string, baseUrl: string): GoogleGenAI {
  return withoutSdkEnv(
    () =>
      new GoogleGenAI({
        vertexai: false,
        apiKey,
        apiVersion: GEMINI_API_VERSION,
        httpOptions: { baseUrl },
      }),
  );
}

/**
 * Builds one provider; a failure names the provider and its variables, so a
 * bad setting stops the boot with a message an operator can act on.
 */
export function startProvider<T>(provider: string, variables: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConfigError([`${variables}: the ${provider} provider could not start: ${reason}`]);
  }
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
  if (sim) return simulatedProviders(config, sim);
  const providers: LlmProvider[] = [];

  const openai = config.llm.openai;
  if (openai)
    providers.push(
      startProvider(
        'openai',
        'OPENAI_API_KEY/OPENAI_BASE_URL',
        () =>
          new OpenAiChatProvider({
            kind: 'openai',
            client: openAiClient(openai.apiKey.reveal(), openai.baseUrl ?? OPENAI_BASE_URL),
          }),
      ),
    );
  const compatible = config.llm.openaiCompatible;
  if (compatible)
    providers.push(
      startProvider(
        'openai-compatible',
        'OPENAI_COMPATIBLE_BASE_URL',
        () =>
          new OpenAiChatProvider({
            kind: 'openai-compatible',
            client: openAiClient(compatible.apiKey?.reveal() ?? 'none', compatible.baseUrl),
          }),
      ),
    );
  if (config.llm.azure) {
    const azure = config.llm.azure;
    if (!azure.apiKey)
      // Entra ID tokens need @azure/identity, which is not part of this build.
      throw new Error(
        'AZURE_OPENAI_API_KEY: required when AZURE_OPENAI_ENDPOINT is set (Entra ID auth is not supported)',
      );
    const apiKey = azure.apiKey.reveal();
    providers.push(
      startProvider('azure-openai', 'AZURE_OPENAI_*', () =>
        createAzureOpenAiProvider({
          endpoint: azure.endpoint,
          apiVersion: azure.apiVersion,
          apiKey,
        }),
      ),
    );
  }
  if (config.llm.bedrock) {
    // Credentials come from the standard AWS chain (env, profile, ECS task role...).
    const bedrock = config.llm.bedrock;
    providers.push(
      startProvider(
        'bedrock',
        'AWS_REGION/BEDROCK_ENDPOINT',
        () =>
          new BedrockProvider({
            client: bedrockClient({
              region: bedrock.region,
              ...(bedrock.endpoint ? { endpoint: bedrock.endpoint } : {}),
            }),
          }),
      ),
    );
  }
  if (config.llm.gemini) {
    const gemini = config.llm.gemini;
    providers.push(
      startProvider(
        'gemini',
        'GEMINI_API_KEY/GEMINI_BASE_URL',
        () =>
          new GeminiProvider({
            client: geminiClient(gemini.apiKey.reveal(), gemini.baseUrl ?? GEMINI_BASE_URL),
          }),
      ),
    );
  }
  return providers;
}

/** Every adapter, each through its real SDK, against the simulator at `sim`. */
function simulatedProviders(config: AppConfig, sim: string): LlmProvider[] {
  return [
    new OpenAiChatProvider({
      kind: 'openai',
      simulated: true,
      client: openAiClient('simulated', `${sim}/v1`),
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
      client: geminiClient('simulated', sim),
    }),
  ];
}

import type { AppConfig } from '@switchboard/config';
import OpenAI from 'openai';
import type { LlmProvider } from '../provider.port';
import { OpenAiChatProvider } from './openai-chat.provider';

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
  return providers;
}

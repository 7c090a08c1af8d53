import { AzureOpenAI } from 'openai';
import { OpenAiChatProvider } from './openai-chat.provider';

export interface AzureOpenAiProviderOptions {
  /** https://<resource>.openai.azure.com (the client appends /openai) */
  endpoint: string;
  apiVersion: string;
  /**
   * Required: Microsoft Entra ID tokens would need `@azure/identity`, which this
   * build does not ship, so key auth is the only supported mode.
   */
  apiKey: string;
  name?: string;
  simulated?: boolean;
  /** ms; default 10 minutes (long generations) */
  timeout?: number;
}

/**
 * Azure OpenAI is the OpenAI Chat Completions protocol on deployment-scoped
 * paths. The catalogue's `upstreamModel` is the deployment name: the SDK's
 * AzureOpenAI client moves the request's `model` into
 * `/openai/deployments/{model}/chat/completions?api-version=...`, so one client
 * serves every deployment of the resource. Retries are the gateway's job
 * (`maxRetries: 0`).
 */
export function createAzureOpenAiProvider(opts: AzureOpenAiProviderOptions): OpenAiChatProvider {
  return new OpenAiChatProvider({
    kind: 'azure-openai',
    name: opts.name,
    simulated: opts.simulated,
    client: new AzureOpenAI({
      endpoint: opts.endpoint,
      apiVersion: opts.apiVersion,
      apiKey: opts.apiKey,
      maxRetries: 0,
      timeout: opts.timeout ?? 10 * 60 * 1000,
    }),
  });
}

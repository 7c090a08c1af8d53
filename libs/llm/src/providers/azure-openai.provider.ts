import { AzureOpenAI } from 'openai';
import { OpenAiChatProvider } from './openai-chat.provider';
import { withoutSdkEnv } from './sdk-env';

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
    // the base URL is built here rather than passed as `endpoint`: the client
    // would otherwise also read OPENAI_BASE_URL and refuse both being set
    client: withoutSdkEnv(
      () =>
        new AzureOpenAI({
          baseURL: `${opts.endpoint.replace(/\/+$/, '')}/openai`,
          apiVersion: opts.apiVersion,
          apiKey: opts.apiKey,
          organization: null,
          project: null,
          webhookSecret: null,
          logLevel: 'warn',
          maxRetries: 0,
          timeout: opts.timeout ?? 10 * 60 * 1000,
        }),
    ),
  });
}

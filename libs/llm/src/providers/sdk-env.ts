/**
 * Environment variables the provider SDKs read by themselves when a client is
 * built (`openai` and its AzureOpenAI client, `@google/genai`). Switchboard
 * passes every setting explicitly from its validated configuration; these are
 * hidden while a client is constructed, so a variable meant for another tool
 * (an OPENAI_BASE_URL for a proxy, GOOGLE_GENAI_USE_VERTEXAI...) can neither
 * redirect a provider nor stop the boot ("baseURL and endpoint are mutually
 * exclusive"). The AWS SDK keeps its own credential chain on purpose; its
 * endpoint variables are turned off by `ignoreConfiguredEndpointUrls`.
 */
export const SDK_ENV_VARIABLES = [
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'OPENAI_ADMIN_KEY',
  'OPENAI_ORG_ID',
  'OPENAI_PROJECT_ID',
  'OPENAI_WEBHOOK_SECRET',
  'OPENAI_LOG',
  'OPENAI_CUSTOM_HEADERS',
  'OPENAI_API_VERSION',
  'AZURE_OPENAI_API_KEY',
  'AZURE_OPENAI_ENDPOINT',
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'GOOGLE_GENAI_USE_VERTEXAI',
  'GOOGLE_GENAI_USE_ENTERPRISE',
  'GOOGLE_CLOUD_PROJECT',
  'GOOGLE_CLOUD_LOCATION',
  'GOOGLE_VERTEX_BASE_URL',
  'GOOGLE_GEMINI_BASE_URL',
  'GOOGLE_GENAI_API_VERSION',
] as const;

/**
 * Builds an SDK client with the SDKs' own environment variables hidden, and
 * restores them afterwards. Client constructors are synchronous, so nothing
 * else can observe the gap.
 */
export function withoutSdkEnv<T>(build: () => T): T {
  const saved = new Map<string, string>();
  for (const name of SDK_ENV_VARIABLES) {
    const v = process.env[name];
    if (v !== undefined) {
      saved.set(name, v);
      delete process.env[name];
    }
  }
  try {
    return build();
  } finally {
    for (const [name, v] of saved) process.env[name] = v;
  }
}

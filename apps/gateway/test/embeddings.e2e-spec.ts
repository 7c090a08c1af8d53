import { UsageLedger } from '@switchboard/billing';
import { embedText } from '@switchboard/simulator';
import { DATABASE, type Database } from '@switchboard/storage';
import { request } from 'node:http';
import OpenAI from 'openai';
import { ADMIN_KEY, auth, postJson, startHarness, waitFor, type Harness } from './gateway.harness';

/**
 * POST /v1/embeddings through the official `openai` client and raw HTTP: the
 * gateway talks to the simulator through each provider's real SDK, and the
 * simulator's embeddings are deterministic (`embedText`), so vectors and token
 * counts are compared exactly.
 */

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** The simulator's token count for embeddings: ceil(chars / 4), at least 1 per input. */
const simTokens = (texts: string[]) =>
  texts.reduce((n, t) => n + Math.max(1, Math.ceil(t.length / 4)), 0);

const expected = (text: string, dimensions: number) => Array.from(embedText(text, dimensions));

function client(h: Harness, key = ADMIN_KEY): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0 });
}

interface LedgerRow {
  request_id: string;
  attempt: number;
  user_id: string;
  account_id: string | null;
  key_id: string | null;
  model: string;
  provider: string;
  input_tokens: number;
  output_tokens: number;
  cost_micros: number | string;
  status: string;
  error_code: string | null;
}

/** rows of the request the client named `clientRequestId` (its x-request-id) */
async function ledgerRows(h: Harness, clientRequestId: string): Promise<LedgerRow[]> {
  await h.gateway.app.get(UsageLedger).flush();
  const db = h.gateway.app.get<Database>(DATABASE);
  const r = await db.query<LedgerRow>('SELECT * FROM usage_ledger WHERE client_request_id = $1', [
    clientRequestId,
  ]);
  return r.rows.map((row) => ({ ...row, cost_micros: Number(row.cost_micros) }));
}

describe('POST /v1/embeddings (test catalogue, OpenAI provider)', () => {
  let h: Harness;

  const post = async (body: unknown, headers: Record<string, string> = auth) => {
    const res = await postJson(`${h.url}/v1/embeddings`, body, headers);
    return {
      status: res.status,
      requestId: res.headers.get('x-request-id'),
      // response bodies are asserted field by field
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      json: (await res.json()) as any,
    };
  };

  beforeAll(async () => (h = await startHarness()));
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('answers the openai client with the exact vectors, order and usage', async () => {
    const texts = ['the quick brown fox', 'jumps over', 'the lazy dog again and again'];
    const res = await client(h).embeddings.create({
      model: 'sim-embed',
      input: texts,
      encoding_format: 'float',
    });
    expect(res.object).toBe('list');
    expect(res.model).toBe('sim-embed');
    expect(res.data.map((d) => [d.object, d.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
      ['embedding', 2],
    ]);
    texts.forEach((t, i) => expect(res.data[i].embedding).toEqual(expected(t, 1536)));
    expect(res.usage).toEqual({ prompt_tokens: simTokens(texts), total_tokens: simTokens(texts) });
  });

  it("decodes the openai client's default base64 encoding to the same vectors, and honours dimensions", async () => {
    // Without encoding_format the client asks for base64 and decodes it itself.
    const res = await client(h).embeddings.create({
      model: 'sim-embed',
      input: 'a single string',
      dimensions: 64,
    });
    expect(res.data).toHaveLength(1);
    expect(res.data[0].embedding).toEqual(expected('a single string', 64));
  });

  it('encodes base64 as little-endian float32, byte for byte', async () => {
    const r = await post({
      model: 'sim-embed',
      input: ['round trip'],
      dimensions: 32,
      encoding_format: 'base64',
    });
    expect(r.status).toBe(200);
    const b64 = r.json.data[0].embedding as string;
    expect(typeof b64).toBe('string');
    const bytes = Buffer.from(b64, 'base64');
    expect(bytes.length).toBe(32 * 4);
    const want = embedText('round trip', 32);
    expect(bytes.equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
    const decoded = Array.from({ length: 32 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(Array.from(want));
  });

  it('records one complete ledger row with the provider token count and its cost', async () => {
    const texts = ['ledger one', 'ledger two, a little longer'];
    const r = await postJson(
      `${h.url}/v1/embeddings`,
      { model: 'sim-embed', input: texts },
      { ...auth, 'x-request-id': 'emb-ledger-complete' },
    );
    expect(r.status).toBe(200);
    const rows = await ledgerRows(h, 'emb-ledger-complete');
    const tokens = simTokens(texts);
    expect(rows).toEqual([
      expect.objectContaining({
        attempt: 1,
        model: 'sim-embed',
        provider: 'openai',
        input_tokens: tokens,
        output_tokens: 0,
        // $0.02 per million tokens, rounded up to a whole micro-dollar
        cost_micros: Math.ceil(tokens * 0.02),
        status: 'complete',
        error_code: null,
      }),
    ]);
  });

  describe('exact 400s for bad bodies', () => {
    const cases: Array<[string, unknown, string, string]> = [
      ['missing input', { model: 'sim-embed' }, 'input', 'input: is required'],
      ['missing model', { input: 'x' }, 'model', 'model: is required'],
      ['an empty string', { model: 'sim-embed', input: '' }, 'input', 'input: must not be empty'],
      [
        'an empty array',
        { model: 'sim-embed', input: [] },
        'input',
        'input: must contain at least one string',
      ],
      [
        'an empty item',
        { model: 'sim-embed', input: ['ok', ''] },
        'input.1',
        'input.1: must not be empty',
      ],
      [
        '2049 items',
        { model: 'sim-embed', input: Array.from({ length: 2049 }, () => 'x') },
        'input',
        'input: must contain at most 2048 strings (got 2049)',
      ],
      [
        'token arrays',
        { model: 'sim-embed', input: [1, 2, 3] },
        'input',
        'input: must be a string or an array of strings (token arrays are not supported)',
      ],
      [
        'a mixed array',
        { model: 'sim-embed', input: ['a', 3] },
        'input',
        'input: must be a string or an array of strings (token arrays are not supported)',
      ],
      [
        'dimensions 0',
        { model: 'sim-embed', input: 'x', dimensions: 0 },
        'dimensions',
        'dimensions: Too small: expected number to be >=1',
      ],
      [
        'fractional dimensions',
        { model: 'sim-embed', input: 'x', dimensions: 1.5 },
        'dimensions',
        'dimensions: Invalid input: expected int, received number',
      ],
      [
        'an unknown encoding_format',
        { model: 'sim-embed', input: 'x', encoding_format: 'int8' },
        'encoding_format',
        'encoding_format: Invalid option: expected one of "float"|"base64"',
      ],
    ];

    it.each(cases)('%s', async (_name, body, param, message) => {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({
        error: {
          code: 'invalid_request',
          message,
          type: 'invalid_request_error',
          param,
          requestId: r.requestId,
          details: [{ path: param, message: message.slice(param.length + 2) }],
        },
      });
      expect(h.sim.stats().started).toBe(0);
    });

    it('a body that is not a JSON object', async () => {
      const r = await post(['not', 'an', 'object']);
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({
        code: 'invalid_request',
        message: 'The request body must be a JSON object.',
      });
    });
  });

  it('404 model_not_found for an unknown model, through the openai client too', async () => {
    const r = await post({ model: 'no-such-model', input: 'x' });
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({
      code: 'model_not_found',
      type: 'not_found_error',
      param: 'model',
    });
    await expect(
      client(h).embeddings.create({ model: 'no-such-model', input: 'x' }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('400 unsupported_capability (param model) for a chat model', async () => {
    const r = await post({ model: 'sim-gpt', input: 'x' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({
      code: 'unsupported_capability',
      message: 'The model "sim-gpt" does not create embeddings.',
      param: 'model',
    });
    expect(h.sim.stats().started).toBe(0);
  });

  it('needs the embeddings scope: a chat-only key gets 403, an embeddings key 200 billed to its account', async () => {
    const admin = (path: string, body: unknown) => postJson(`${h.url}${path}`, body);
    expect((await admin('/admin/accounts', { id: 'emb-acct', name: 'Embeddings' })).status).toBe(
      201,
    );
    const key = async (scopes: string[]) => {
      const r = await admin('/admin/keys', { ownerUserId: 'eve', accountId: 'emb-acct', scopes });
      expect(r.status).toBe(201);
      return (await r.json()) as { key: string; record: { id: string } };
    };
    const chatOnly = await key(['chat']);
    const embed = await key(['embeddings']);

    const denied = await post({ model: 'sim-embed', input: 'x' }, bearer(chatOnly.key));
    expect([denied.status, denied.json.error.code]).toEqual([403, 'insufficient_scope']);

    const res = await client(h, embed.key)
      .embeddings.create(
        { model: 'sim-embed', input: 'scoped' },
        { headers: { 'x-request-id': 'emb-scoped' } },
      )
      .withResponse();
    expect(res.response.status).toBe(200);
    expect(res.data.data[0].embedding).toEqual(expected('scoped', 1536));
    expect(await ledgerRows(h, 'emb-scoped')).toEqual([
      expect.objectContaining({
        user_id: 'eve',
        account_id: 'emb-acct',
        key_id: embed.record.id,
        status: 'complete',
      }),
    ]);
  });

  it('maps an upstream 500 to 502 upstream_error and records an error row with no tokens', async () => {
    const r = await postJson(
      `${h.url}/v1/embeddings`,
      { model: 'sim-embed', input: ['fine', 'then\n#sim fail=500'] },
      { ...auth, 'x-request-id': 'emb-upstream-500' },
    );
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
    expect(await ledgerRows(h, 'emb-upstream-500')).toEqual([
      expect.objectContaining({
        status: 'error',
        error_code: 'upstream_error',
        input_tokens: 0,
        cost_micros: 0,
      }),
    ]);
  });

  it('aborts the upstream call when the client disconnects, and records it as cancelled', async () => {
    // A plain node:http request on its own connection: destroying it is a real
    // disconnect and leaves no pooled socket behind (fetch's pool may keep one).
    const body = JSON.stringify({ model: 'sim-embed', input: 'slow one\n#sim ttft=30000' });
    const req = request(`${h.url}/v1/embeddings`, {
      method: 'POST',
      agent: false,
      headers: { ...auth, 'content-type': 'application/json', 'x-request-id': 'emb-cancelled' },
    });
    const closed = new Promise<void>((resolve) => req.on('close', resolve));
    req.on('error', () => undefined);
    req.end(body);
    await waitFor(() => h.sim.stats().open === 1);
    req.destroy();
    await closed;
    await waitFor(() => h.sim.stats().aborted === 1, 5000, 2);
    await waitFor(async () => (await ledgerRows(h, 'emb-cancelled')).length === 1);
    const [row] = await ledgerRows(h, 'emb-cancelled');
    expect(row).toMatchObject({ status: 'cancelled', error_code: 'cancelled', output_tokens: 0 });
    // charged with the estimated input tokens: the provider may have done the work
    expect(row.input_tokens).toBeGreaterThan(0);
  });
});

describe('POST /v1/embeddings (default catalogue: Azure, Bedrock, Gemini)', () => {
  let h: Harness;

  // An empty MODELS_FILE means "no override": the shipped catalogue is served.
  beforeAll(async () => (h = await startHarness({ MODELS_FILE: '' })));
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  const texts = ['first document about cats', 'second about dogs', 'third'];

  it.each<[string, string, number | undefined, number, string]>([
    ['Azure OpenAI', 'azure-text-embedding-3-small', 256, 256, 'azure'],
    ['Bedrock Titan v2', 'bedrock-titan-embed-text-v2', 256, 256, 'bedrock'],
    [
      'Bedrock Cohere v3 (fixed size)',
      'bedrock-cohere-embed-english-v3',
      undefined,
      1024,
      'bedrock',
    ],
    ['Gemini', 'gemini-embedding-001', 128, 128, 'gemini'],
  ])('%s through the openai client', async (_name, model, dimensions, size, protocol) => {
    const res = await client(h).embeddings.create({ model, input: texts, dimensions });
    expect(res.model).toBe(model);
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2]);
    texts.forEach((t, i) => {
      expect(res.data[i].embedding).toHaveLength(size);
      const want = expected(t, size);
      res.data[i].embedding.forEach((x, j) => expect(x).toBeCloseTo(want[j], 6));
    });
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens);
    const log = (await (await fetch(`${h.sim.url}/_sim/requests`)).json()) as {
      requests: Array<{ protocol: string; path: string }>;
    };
    expect(log.requests.length).toBeGreaterThan(0);
    expect(log.requests.map((r) => r.protocol)).toEqual(log.requests.map(() => protocol));
  });

  it('Bedrock Titan v2 reports its own token count (one InvokeModel per text)', async () => {
    const res = await client(h).embeddings.create({
      model: 'bedrock-titan-embed-text-v2',
      input: texts,
      encoding_format: 'float',
    });
    expect(res.usage.prompt_tokens).toBe(simTokens(texts));
    expect(h.sim.stats().started).toBe(texts.length);
  });
});

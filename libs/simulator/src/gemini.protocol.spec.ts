import { ApiError, GoogleGenAI } from '@google/genai';
import { startSimulator, type RunningSimulator } from './simulator.server';
import { promptTokens, WORDS } from './reply.planner';
import { exposeHostUndiciDispatcher } from './undici-dispatcher';

describe('Gemini protocol (real @google/genai client)', () => {
  let sim: RunningSimulator;
  let ai: GoogleGenAI;
  const model = 'gemini-2.5-flash';

  beforeAll(async () => {
    exposeHostUndiciDispatcher();
    sim = await startSimulator({ port: 0 });
    ai = new GoogleGenAI({ apiKey: 'x', httpOptions: { baseUrl: sim.url } });
  });
  afterAll(() => sim.close());

  it('streams text with usage metadata where candidates exclude thoughts', async () => {
    const text = 'question\n#sim tokens=6 cached=4 reasoning=5';
    const stream = await ai.models.generateContentStream({
      model,
      contents: [{ role: 'user', parts: [{ text }] }],
      config: { systemInstruction: 'be nice' },
    });
    let out = '';
    let finish: string | undefined;
    let usage: Record<string, unknown> | undefined;
    for await (const chunk of stream) {
      out += chunk.text ?? '';
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
      if (chunk.usageMetadata) usage = { ...chunk.usageMetadata };
    }
    expect(out).toBe(WORDS.slice(0, 6).join(' '));
    expect(finish).toBe('STOP');
    const prompt =
      promptTokens([
        { role: 'system', text: 'be nice' },
        { role: 'user', text },
      ]) + 4;
    expect(usage).toMatchObject({
      promptTokenCount: prompt,
      cachedContentTokenCount: 4,
      candidatesTokenCount: 6,
      thoughtsTokenCount: 5,
      totalTokenCount: prompt + 6 + 5,
    });
  });

  it('answers generateContent and honours maxOutputTokens', async () => {
    const res = await ai.models.generateContent({
      model,
      contents: '#sim tokens=8 text=si',
      config: { maxOutputTokens: 3 },
    });
    expect(res.text).toBe('si si si');
    expect(res.candidates?.[0].finishReason).toBe('MAX_TOKENS');
    expect(res.usageMetadata?.candidatesTokenCount).toBe(3);
    expect(res.usageMetadata?.thoughtsTokenCount).toBeUndefined();
  });

  it('returns a function call and then text quoting the function response', async () => {
    const tools = [{ functionDeclarations: [{ name: 'get_time', description: 'time' }] }];
    const user = { role: 'user', parts: [{ text: '#sim tool=get_time args={"tz":"UTC"}' }] };
    const stream = await ai.models.generateContentStream({
      model,
      contents: [user],
      config: { tools },
    });
    const calls = [];
    for await (const chunk of stream) calls.push(...(chunk.functionCalls ?? []));
    expect(calls).toEqual([{ name: 'get_time', args: { tz: 'UTC' } }]);

    const called = await ai.models.generateContent({ model, contents: [user], config: { tools } });
    expect(called.functionCalls).toEqual([{ name: 'get_time', args: { tz: 'UTC' } }]);

    const answer = await ai.models.generateContent({
      model,
      config: { tools },
      contents: [
        user,
        { role: 'model', parts: [{ functionCall: { name: 'get_time', args: { tz: 'UTC' } } }] },
        {
          role: 'user',
          parts: [{ functionResponse: { name: 'get_time', response: { time: '12:00' } } }],
        },
      ],
    });
    expect(answer.functionCalls).toBeUndefined();
    expect(answer.text).toBe('Tool get_time returned: {"time":"12:00"}');
  });

  it('embeds deterministically with outputDimensionality', async () => {
    const a = await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['green tea', 'green tea', 'black coffee'],
      config: { outputDimensionality: 64 },
    });
    const values = a.embeddings!.map((e) => e.values!);
    expect(values).toHaveLength(3);
    expect(values[0]).toHaveLength(64);
    expect(values[0]).toEqual(values[1]);
    expect(values[0]).not.toEqual(values[2]);
    const dflt = await ai.models.embedContent({ model: 'text-embedding-004', contents: 'x' });
    expect(dflt.embeddings![0].values).toHaveLength(768);
  });

  it('maps fail=429 to RESOURCE_EXHAUSTED and fail=500 to INTERNAL', async () => {
    const err429 = await ai.models
      .generateContent({ model, contents: '#sim fail=429' })
      .catch((e: unknown) => e);
    expect(err429).toBeInstanceOf(ApiError);
    expect((err429 as ApiError).status).toBe(429);
    expect((err429 as ApiError).message).toContain('RESOURCE_EXHAUSTED');
    const err500 = await ai.models
      .generateContentStream({ model, contents: '#sim fail=500' })
      .catch((e: unknown) => e);
    expect((err500 as ApiError).status).toBe(500);
    expect((err500 as ApiError).message).toContain('INTERNAL');
  });

  it('rejects a call without an API key', async () => {
    const res = await fetch(`${sim.url}/v1beta/models/${model}:generateContent`, {
      method: 'POST',
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    const withQueryKey = await fetch(`${sim.url}/v1beta/models/${model}:generateContent?key=abc`, {
      method: 'POST',
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(withQueryKey.status).toBe(200);
  });

  it('breaks the stream after N chunks with fail=drop', async () => {
    const stream = await ai.models.generateContentStream({
      model,
      contents: '#sim fail=drop after=2',
    });
    let text = '';
    await expect(
      (async () => {
        for await (const chunk of stream) text += chunk.text ?? '';
      })(),
    ).rejects.toThrow();
    expect(text).toBe(WORDS.slice(0, 2).join(' '));
  });

  it('runs code before the answer when codeExecution is offered: code, result, then each PNG figure inline', async () => {
    const stream = await ai.models.generateContentStream({
      model,
      contents: [
        { role: 'user', parts: [{ text: 'plot\n#sim tokens=3 files=data.csv,chart.png' }] },
      ],
      config: { tools: [{ codeExecution: {} }] },
    });
    const parts: Array<Record<string, unknown>> = [];
    let text = '';
    for await (const chunk of stream) {
      for (const p of chunk.candidates?.[0]?.content?.parts ?? [])
        parts.push(p as Record<string, unknown>);
      text += chunk.text ?? '';
    }
    const kinds = parts.map((p) => Object.keys(p).find((k) => k !== 'thought') ?? '');
    expect(kinds.slice(0, 3)).toEqual(['executableCode', 'codeExecutionResult', 'inlineData']);
    expect(parts[0].executableCode).toMatchObject({ language: 'PYTHON' });
    expect(String((parts[0].executableCode as { code: string }).code)).toContain('chart.png');
    expect(parts[1].codeExecutionResult).toMatchObject({ outcome: 'OUTCOME_OK' });
    const figure = parts[2].inlineData as { mimeType: string; data: string };
    expect(figure.mimeType).toBe('image/png');
    expect([...Buffer.from(figure.data, 'base64').subarray(0, 4)]).toEqual([
      0x89, 0x50, 0x4e, 0x47,
    ]);
    // only figures come back; the CSV stays in the sandbox
    expect(kinds.filter((k) => k === 'inlineData')).toHaveLength(1);
    expect(text.split(' ')).toHaveLength(3);
  });

  it('runs no code without the tool, or with code=0', async () => {
    for (const [text, tools] of [
      ['#sim tokens=2 files=chart.png', undefined],
      ['#sim tokens=2 files=chart.png code=0', [{ codeExecution: {} }]],
    ] as const) {
      const res = await ai.models.generateContent({
        model,
        contents: [{ role: 'user', parts: [{ text }] }],
        config: tools ? { tools: [...tools] } : {},
      });
      const parts = res.candidates?.[0]?.content?.parts ?? [];
      expect(parts.map((p) => Object.keys(p))).toEqual([['text']]);
    }
  });
});

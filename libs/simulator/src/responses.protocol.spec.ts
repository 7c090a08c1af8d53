import { waitFor } from '@switchboard/common/testing';
import OpenAI, { AzureOpenAI, toFile } from 'openai';
import type {
  ResponseCodeInterpreterToolCall,
  ResponseFunctionToolCall,
  ResponseOutputMessage,
  ResponseOutputText,
  ResponseStreamEvent,
  Tool,
} from 'openai/resources/responses/responses';
import { ContainerStore } from './container.store';
import { parseResponsesCreate, responsesDialect } from './responses.protocol';
import { startSimulator, type RunningSimulator } from './simulator.server';
import { planReply, promptTokens, WORDS } from './reply.planner';
import { UserFileStore } from './user-file.store';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CODE_TOOL: Tool = { type: 'code_interpreter', container: { type: 'auto' } };
const LOOKUP_TOOL: Tool = {
  type: 'function',
  name: 'lookup',
  parameters: { type: 'object', properties: { q: { type: 'string' } } },
  strict: false,
};

async function collect(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Event types with runs of the same delta type collapsed to one entry. */
function shape(events: readonly ResponseStreamEvent[]): string[] {
  const types: string[] = [];
  for (const e of events) {
    if (e.type.endsWith('.delta') && types.at(-1) === e.type) continue;
    types.push(e.type);
  }
  return types;
}

function ofType<T extends ResponseStreamEvent['type']>(
  events: readonly ResponseStreamEvent[],
  type: T,
): Extract<ResponseStreamEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ResponseStreamEvent, { type: T }> => e.type === type);
}

function finalResponse(events: readonly ResponseStreamEvent[]): OpenAI.Responses.Response {
  const last = events.at(-1);
  if (last?.type !== 'response.completed' && last?.type !== 'response.incomplete') {
    throw new Error(`stream ended with ${last?.type}`);
  }
  return last.response;
}

function messageText(item: OpenAI.Responses.ResponseOutputItem | undefined): ResponseOutputText {
  expect(item?.type).toBe('message');
  const part = (item as ResponseOutputMessage).content[0];
  expect(part.type).toBe('output_text');
  return part as ResponseOutputText;
}

describe('OpenAI Responses API (real openai client)', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => sim.close());

  it('streams a code-interpreter run, then the text with one citation per produced file', async () => {
    const input = 'Plot the revenue\n#sim tokens=5 cached=3 reasoning=2 files=data.csv,chart.png';
    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        instructions: 'You are a data analyst.',
        input,
        tools: [CODE_TOOL],
        stream: true,
      }),
    );

    expect(shape(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.code_interpreter_call.in_progress',
      'response.code_interpreter_call_code.delta',
      'response.code_interpreter_call_code.done',
      'response.code_interpreter_call.interpreting',
      'response.code_interpreter_call.completed',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.annotation.added',
      'response.output_text.annotation.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));

    const [codeAdded, messageAdded] = ofType(events, 'response.output_item.added');
    expect(codeAdded.output_index).toBe(0);
    expect(codeAdded.item).toMatchObject({
      type: 'code_interpreter_call',
      status: 'in_progress',
      code: '',
      outputs: null,
    });
    const call = codeAdded.item as ResponseCodeInterpreterToolCall;
    expect(call.id).toMatch(/^ci_/);
    expect(call.container_id).toMatch(/^cntr_sim/);
    const code = ofType(events, 'response.code_interpreter_call_code.delta')
      .map((e) => e.delta)
      .join('');
    expect(ofType(events, 'response.code_interpreter_call_code.done')[0].code).toBe(code);
    expect(code).toContain('/mnt/data/data.csv');
    expect(code).toContain('/mnt/data/chart.png');
    const [codeDone, messageDone] = ofType(events, 'response.output_item.done');
    expect(codeDone.item).toEqual({
      id: call.id,
      type: 'code_interpreter_call',
      status: 'completed',
      code,
      container_id: call.container_id,
      outputs: [{ type: 'logs', logs: 'saved /mnt/data/data.csv\nsaved /mnt/data/chart.png\n' }],
    });

    expect(messageAdded).toMatchObject({
      output_index: 1,
      item: { type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    const deltas = ofType(events, 'response.output_text.delta');
    expect(deltas).toHaveLength(5);
    const text = WORDS.slice(0, 5).join(' ');
    expect(deltas.map((d) => d.delta).join('')).toBe(text);
    expect(ofType(events, 'response.output_text.done')[0].text).toBe(text);

    const annotations = ofType(events, 'response.output_text.annotation.added');
    expect(annotations.map((a) => a.annotation_index)).toEqual([0, 1]);
    expect(annotations.map((a) => a.annotation)).toEqual([
      expect.objectContaining({
        type: 'container_file_citation',
        container_id: call.container_id,
        filename: 'data.csv',
        start_index: text.length,
        end_index: text.length,
      }),
      expect.objectContaining({ filename: 'chart.png', container_id: call.container_id }),
    ]);
    const partDone = ofType(events, 'response.content_part.done')[0];
    expect(partDone.part).toEqual({
      type: 'output_text',
      text,
      annotations: annotations.map((a) => a.annotation),
      logprobs: [],
    });
    expect(messageDone.item).toMatchObject({ type: 'message', status: 'completed' });

    const response = finalResponse(events);
    expect(response.status).toBe('completed');
    expect(response.output).toEqual([codeDone.item, messageDone.item]);
    const input_tokens =
      promptTokens([
        { role: 'system', text: 'You are a data analyst.' },
        { role: 'user', text: input },
      ]) + 3;
    expect(response.usage).toEqual({
      input_tokens,
      input_tokens_details: { cached_tokens: 3, cache_write_tokens: 0 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: input_tokens + 7,
    });
  });

  it('serves the produced files: list, metadata and exact bytes', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=table.csv,chart.png,summary.json,notes.txt',
      tools: [CODE_TOOL],
    });
    const call = res.output[0] as ResponseCodeInterpreterToolCall;
    const cites = messageText(res.output[1]).annotations;
    expect(cites.map((c) => c.type)).toEqual(Array(4).fill('container_file_citation'));
    const byName = new Map(
      cites.map((c) => {
        if (c.type !== 'container_file_citation') throw new Error(c.type);
        return [c.filename, c.file_id];
      }),
    );

    const listed = [];
    for await (const file of client.containers.files.list(call.container_id)) listed.push(file);
    expect(listed.map((f) => f.path).sort()).toEqual([
      '/mnt/data/chart.png',
      '/mnt/data/notes.txt',
      '/mnt/data/summary.json',
      '/mnt/data/table.csv',
    ]);

    const download = async (name: string): Promise<Buffer> => {
      const id = byName.get(name) ?? '';
      const meta = await client.containers.files.retrieve(id, { container_id: call.container_id });
      expect(meta).toMatchObject({
        id,
        object: 'container.file',
        container_id: call.container_id,
        path: `/mnt/data/${name}`,
        source: 'assistant',
      });
      const content = await client.containers.files.content.retrieve(id, {
        container_id: call.container_id,
      });
      expect(content.headers.get('content-type')).toBe('application/octet-stream');
      const bytes = Buffer.from(await content.arrayBuffer());
      expect(bytes.length).toBe(meta.bytes);
      expect(Number(content.headers.get('content-length'))).toBe(meta.bytes);
      return bytes;
    };

    expect([...(await download('chart.png')).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect((await download('table.csv')).toString().split('\n')[0]).toBe('period,revenue,units');
    expect(JSON.parse((await download('summary.json')).toString())).toHaveLength(12);
    expect((await download('notes.txt')).toString()).toContain('notes.txt line 1');
  });

  it('makes every file exactly filebytes long, a PNG still starting with its signature', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=big.png,big.csv filebytes=100000',
      tools: [CODE_TOOL],
    });
    const { container_id } = res.output[0] as ResponseCodeInterpreterToolCall;
    const files = [];
    for await (const file of client.containers.files.list(container_id)) files.push(file);
    expect(files.map((f) => f.bytes)).toEqual([100_000, 100_000]);
    for (const file of files) {
      const content = await client.containers.files.content.retrieve(file.id, { container_id });
      const bytes = Buffer.from(await content.arrayBuffer());
      expect(bytes.length).toBe(100_000);
      if (file.path.endsWith('.png')) {
        expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
        expect(bytes.subarray(-8, -4).toString('latin1')).toBe('IEND');
      }
    }
  });

  it('pages the file list with limit, after and order', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=a.txt,b.txt,c.txt',
      tools: [CODE_TOOL],
    });
    const { container_id } = res.output[0] as ResponseCodeInterpreterToolCall;
    const first = await client.containers.files.list(container_id, { limit: 2, order: 'asc' });
    expect(first.data.map((f) => f.path)).toEqual(['/mnt/data/a.txt', '/mnt/data/b.txt']);
    expect(first.has_more).toBe(true);
    const next = await first.getNextPage();
    expect(next.data.map((f) => f.path)).toEqual(['/mnt/data/c.txt']);
    expect(next.has_more).toBe(false);
    const desc = await client.containers.files.list(container_id);
    expect(desc.data.map((f) => f.path)).toEqual([
      '/mnt/data/c.txt',
      '/mnt/data/b.txt',
      '/mnt/data/a.txt',
    ]);
  });

  it('answers 404 in the OpenAI error shape for an unknown file or container', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=a.csv',
      tools: [CODE_TOOL],
    });
    const { container_id } = res.output[0] as ResponseCodeInterpreterToolCall;
    await expect(
      client.containers.files.content.retrieve('cfile_nope', { container_id }),
    ).rejects.toMatchObject({ status: 404, error: { code: 'not_found' } });
    await expect(
      client.containers.files.retrieve('cfile_nope', { container_id: 'cntr_nope' }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const raw = await fetch(`${sim.url}/v1/containers/cntr_nope/files`, {
      headers: { authorization: 'Bearer x' },
    });
    expect(raw.status).toBe(404);
    expect(await raw.json()).toEqual({
      error: {
        message: "Container with id 'cntr_nope' not found.",
        type: 'invalid_request_error',
        param: null,
        code: 'not_found',
      },
    });
  });

  it('runs no code with code=0, and none when the tool is not offered', async () => {
    const noCode = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim code=0 files=a.csv tokens=2',
      tools: [CODE_TOOL],
    });
    expect(noCode.output.map((o) => o.type)).toEqual(['message']);
    expect(messageText(noCode.output[0]).annotations).toEqual([]);
    expect(noCode.output_text).toBe(WORDS.slice(0, 2).join(' '));

    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        input: '#sim files=a.csv tokens=2',
        stream: true,
      }),
    );
    expect(shape(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(finalResponse(events).output.map((o) => o.type)).toEqual(['message']);
  });

  it('runs code that writes no files when the directive names none', async () => {
    const res = await client.responses.create({
      model: 'o4-mini',
      input: 'hi',
      tools: [CODE_TOOL],
    });
    const call = res.output[0] as ResponseCodeInterpreterToolCall;
    expect(call.type).toBe('code_interpreter_call');
    expect(call.outputs).toEqual([{ type: 'logs', logs: expect.stringContaining('mean') }]);
    expect(messageText(res.output[1]).annotations).toEqual([]);
    const files = await client.containers.files.list(call.container_id);
    expect(files.data).toEqual([]);
  });

  it('streams a function call, then quotes the function_call_output by its call_id', async () => {
    const user = '#sim tool=lookup args={"q":"revenue 2024"}';
    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        input: [{ role: 'user', content: user }],
        tools: [LOOKUP_TOOL],
        stream: true,
      }),
    );
    expect(shape(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const args = ofType(events, 'response.function_call_arguments.delta')
      .map((e) => e.delta)
      .join('');
    expect(args).toBe('{"q":"revenue 2024"}');
    expect(ofType(events, 'response.function_call_arguments.done')[0].arguments).toBe(args);
    const response = finalResponse(events);
    const call = response.output[0] as ResponseFunctionToolCall;
    expect(call).toMatchObject({
      type: 'function_call',
      status: 'completed',
      name: 'lookup',
      arguments: args,
    });
    expect(call.call_id).toMatch(/^call_/);
    expect(response.usage?.output_tokens).toBe(Math.ceil(args.length / 4));

    const answer = await client.responses.create({
      model: 'gpt-4.1',
      tools: [LOOKUP_TOOL],
      input: [
        { role: 'user', content: user },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: args },
        { type: 'function_call_output', call_id: call.call_id, output: '{"total":42}' },
      ],
    });
    expect(answer.output_text).toBe('Tool lookup returned: {"total":42}');
    // As Chat Completions counts it: user, assistant tool call, tool result.
    expect(answer.usage?.input_tokens).toBe(
      promptTokens([
        { role: 'user', text: user },
        { role: 'assistant', text: `lookup${args}` },
        { role: 'tool', text: '{"total":42}' },
      ]),
    );
  });

  it('puts the code call before a function call when both tools are offered', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim tool=lookup files=x.csv',
      tools: [CODE_TOOL, LOOKUP_TOOL],
    });
    expect(res.output.map((o) => o.type)).toEqual(['code_interpreter_call', 'function_call']);
  });

  it('reports the same usage as Chat Completions for the same conversation', async () => {
    const content = 'Summarise this\n#sim tokens=4 cached=2 reasoning=3';
    const chat = await client.chat.completions.create({
      model: 'gpt-4.1',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content },
      ],
    });
    const res = await client.responses.create({
      model: 'gpt-4.1',
      instructions: 'Be brief.',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: content }] }],
    });
    expect(res.output_text).toBe(chat.choices[0].message.content);
    expect(res.usage).toMatchObject({
      input_tokens: chat.usage?.prompt_tokens,
      output_tokens: chat.usage?.completion_tokens,
      total_tokens: chat.usage?.total_tokens,
      input_tokens_details: { cached_tokens: 2 },
      output_tokens_details: { reasoning_tokens: 3 },
    });
  });

  it('ends a max_output_tokens cut with response.incomplete', async () => {
    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        input: '#sim tokens=10 files=a.csv',
        tools: [CODE_TOOL],
        max_output_tokens: 4,
        stream: true,
      }),
    );
    expect(ofType(events, 'response.output_text.delta')).toHaveLength(4);
    expect(events.at(-1)?.type).toBe('response.incomplete');
    const response = finalResponse(events);
    expect(response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      max_output_tokens: 4,
      usage: { output_tokens: 4 },
    });
    expect(response.output[1]).toMatchObject({ type: 'message', status: 'incomplete' });

    const plain = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim tokens=10',
      max_output_tokens: 4,
    });
    expect(plain.status).toBe('incomplete');
    expect(plain.output_text).toBe(WORDS.slice(0, 4).join(' '));
  });

  it('accumulates to the same response in the SDK stream helper', async () => {
    const stream = client.responses.stream({
      model: 'gpt-4.1',
      input: '#sim tokens=3 files=a.csv,b.png',
      tools: [CODE_TOOL],
    });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(WORDS.slice(0, 3).join(' '));
    expect(final.output.map((o) => o.type)).toEqual(['code_interpreter_call', 'message']);
    expect(messageText(final.output[1]).annotations).toHaveLength(2);
  });

  it('sends an SSE event line naming each data type', async () => {
    const res = await fetch(`${sim.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4.1',
        input: '#sim tokens=2 files=a.csv',
        tools: [{ type: 'code_interpreter', container: { type: 'auto' } }],
        stream: true,
      }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames = (await res.text()).split('\n\n').filter((f) => f !== '');
    expect(frames.length).toBeGreaterThan(10);
    for (const frame of frames) {
      const [event, data, ...rest] = frame.split('\n');
      expect(rest).toEqual([]);
      expect(event.startsWith('event: ') && data.startsWith('data: ')).toBe(true);
      expect((JSON.parse(data.slice(6)) as { type: string }).type).toBe(event.slice(7));
    }
  });

  it('answers a non-streaming request with the completed response object', async () => {
    const { data, request_id } = await client.responses
      .create({
        model: 'gpt-4.1',
        input: 'hello\n#sim tokens=3 files=r.csv',
        tools: [CODE_TOOL],
      })
      .withResponse();
    expect(request_id).toMatch(/^req_/);
    expect(data).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'gpt-4.1',
      error: null,
      incomplete_details: null,
      usage: { output_tokens: 3 },
    });
    expect(data.id).toMatch(/^resp_/);
    expect(data.output_text).toBe(WORDS.slice(0, 3).join(' '));
    expect(data.output.map((o) => o.type)).toEqual(['code_interpreter_call', 'message']);
    const [cite] = messageText(data.output[1]).annotations;
    expect(cite).toMatchObject({ type: 'container_file_citation', filename: 'r.csv' });
  });

  it('writes into a named container and refuses an unknown one with 400', async () => {
    const first = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=one.csv',
      tools: [CODE_TOOL],
    });
    const { container_id } = first.output[0] as ResponseCodeInterpreterToolCall;
    const second = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=two.csv',
      tools: [{ type: 'code_interpreter', container: container_id }],
    });
    expect((second.output[0] as ResponseCodeInterpreterToolCall).container_id).toBe(container_id);
    const files = await client.containers.files.list(container_id, { order: 'asc' });
    expect(files.data.map((f) => f.path)).toEqual(['/mnt/data/one.csv', '/mnt/data/two.csv']);

    await expect(
      client.responses.create({
        model: 'gpt-4.1',
        input: 'hi',
        tools: [{ type: 'code_interpreter', container: 'cntr_gone' }],
      }),
    ).rejects.toMatchObject({ status: 400, error: { type: 'invalid_request_error' } });
  });

  it('fails up front with fail=500 as an SDK APIError', async () => {
    const failure = client.responses.create({
      model: 'gpt-4.1',
      input: '#sim fail=500 files=a.csv',
      tools: [CODE_TOOL],
      stream: true,
    });
    await expect(failure).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    await expect(failure).rejects.toMatchObject({ status: 500 });
    await expect(
      client.responses.create({ model: 'gpt-4.1', input: '#sim fail=429' }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('cuts the stream after N text deltas with fail=drop after=N', async () => {
    sim.reset();
    const stream = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim fail=drop after=3 tokens=10 files=a.csv',
      tools: [CODE_TOOL],
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    await expect(
      (async () => {
        for await (const event of stream) events.push(event);
      })(),
    ).rejects.toThrow();
    const deltas = ofType(events, 'response.output_text.delta');
    expect(deltas.map((d) => d.delta).join('')).toBe(WORDS.slice(0, 3).join(' '));
    expect(events.at(-1)?.type).toBe('response.output_text.delta');
    expect(ofType(events, 'response.code_interpreter_call.completed')).toHaveLength(1);
    await waitFor(() => sim.stats().open === 0, { what: 'the dropped request closed' });
    expect(sim.stats()).toMatchObject({ started: 1, dropped: 1, open: 0 });
  });

  it('rejects bad bodies with 400 in the OpenAI error shape', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${sim.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const bad: [unknown, string][] = [
      ['{not json', 'JSON'],
      [[1, 2], 'JSON object'],
      [{ input: 'hi' }, "'model'"],
      [{ model: 'gpt-4.1' }, "'input'"],
      [{ model: 'gpt-4.1', input: 42 }, "'input'"],
      [{ model: 'gpt-4.1', input: ['hi'] }, "'input[0]'"],
      [{ model: 'gpt-4.1', input: [{ role: 'robot', content: 'x' }] }, "'input[0].role'"],
      [{ model: 'gpt-4.1', input: [{ role: 'user', content: 7 }] }, "'input[0].content'"],
      [{ model: 'gpt-4.1', input: 'hi', instructions: 3 }, "'instructions'"],
      [{ model: 'gpt-4.1', input: 'hi', tools: {} }, "'tools'"],
      [
        { model: 'gpt-4.1', input: 'hi', tools: [{ type: 'code_interpreter' }] },
        "'tools[0].container'",
      ],
      [{ model: 'gpt-4.1', input: 'hi', tools: [{ type: 'function' }] }, "'tools[0].name'"],
    ];
    for (const [body, mentions] of bad) {
      const res = await post(body);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { type: string; message: string } };
      expect(json.error.type).toBe('invalid_request_error');
      expect(json.error.message).toContain(mentions);
    }
    await expect(
      client.responses.create({
        model: 'gpt-4.1',
        input: [{ role: 'robot', content: 'x' }] as never,
      }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('records Responses calls and clears containers on reset', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=keep.csv',
      tools: [CODE_TOOL],
    });
    const log = (await (await fetch(`${sim.url}/_sim/requests?limit=1`)).json()) as {
      requests: { protocol: string; path: string; body: { input: string } }[];
    };
    expect(log.requests[0]).toMatchObject({
      protocol: 'openai',
      path: '/v1/responses',
      body: { input: '#sim files=keep.csv' },
    });
    const { container_id } = res.output[0] as ResponseCodeInterpreterToolCall;
    await expect(client.containers.files.list(container_id)).resolves.toBeDefined();
    expect((await fetch(`${sim.url}/_sim/reset`, { method: 'POST' })).status).toBe(200);
    await expect(client.containers.files.list(container_id)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
  });
});

describe('Responses code interpreter with uploaded files (file_ids)', () => {
  let sim: RunningSimulator;
  let client: OpenAI;
  const CSV = 'region,revenue\nnorth,1200\nsouth,950\n';
  /** Not valid UTF-8, with every byte value: must come back byte for byte. */
  const XLSX = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const upload = async (bytes: Buffer | string, name: string): Promise<string> => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(bytes), name),
      purpose: 'user_data',
    });
    return file.id;
  };
  const withFiles = (fileIds: string[]): Tool => ({
    type: 'code_interpreter',
    container: { type: 'auto', file_ids: fileIds },
  });

  it('reads each input in the code and logs, lists them as user files, cites only the outputs', async () => {
    const csvId = await upload(CSV, 'sales.csv');
    const xlsxId = await upload(XLSX, 'q3.xlsx');
    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        input: 'Chart revenue by region\n#sim tokens=3 files=chart.png',
        tools: [withFiles([csvId, xlsxId])],
        stream: true,
      }),
    );
    const code = ofType(events, 'response.code_interpreter_call_code.done')[0].code;
    expect(code).toContain('df_0 = pd.read_csv("/mnt/data/sales.csv")\n');
    expect(code).toContain('df_1 = pd.read_excel("/mnt/data/q3.xlsx")\n');
    const response = finalResponse(events);
    const call = response.output[0] as ResponseCodeInterpreterToolCall;
    expect(call.code).toBe(code);
    expect(call.outputs).toEqual([
      {
        type: 'logs',
        logs:
          `read /mnt/data/sales.csv (${Buffer.byteLength(CSV)} bytes)\n` +
          `read /mnt/data/q3.xlsx (${XLSX.length} bytes)\n` +
          'saved /mnt/data/chart.png\n',
      },
    ]);

    const cites = messageText(response.output[1]).annotations;
    expect(cites).toEqual([
      expect.objectContaining({ type: 'container_file_citation', filename: 'chart.png' }),
    ]);
    expect(ofType(events, 'response.output_text.annotation.added')).toHaveLength(1);

    const listed = await client.containers.files.list(call.container_id, { order: 'asc' });
    expect(listed.data.map((f) => [f.path, f.source, f.bytes])).toEqual([
      ['/mnt/data/sales.csv', 'user', Buffer.byteLength(CSV)],
      ['/mnt/data/q3.xlsx', 'user', XLSX.length],
      ['/mnt/data/chart.png', 'assistant', expect.any(Number)],
    ]);
    // The container keeps its copies after the uploads are deleted, as a real one does.
    await client.files.delete(csvId);
    await client.files.delete(xlsxId);
    expect(sim.files()).toEqual([]);
    const download = async (id: string): Promise<Buffer> => {
      const content = await client.containers.files.content.retrieve(id, {
        container_id: call.container_id,
      });
      return Buffer.from(await content.arrayBuffer());
    };
    expect((await download(listed.data[0].id)).toString()).toBe(CSV);
    expect((await download(listed.data[1].id)).equals(XLSX)).toBe(true);
    expect([...(await download(listed.data[2].id)).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  });

  it('refuses an unknown file id with 400 naming the parameter, before anything streams', async () => {
    const known = await upload(CSV, 'sales.csv');
    const failure = client.responses.create({
      model: 'gpt-4.1',
      input: '#sim files=a.csv',
      tools: [LOOKUP_TOOL, withFiles([known, 'file-missing'])],
      stream: true,
    });
    await expect(failure).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(failure).rejects.toMatchObject({
      status: 400,
      error: {
        type: 'invalid_request_error',
        param: 'tools[1].container.file_ids',
        message: expect.stringContaining('file-missing'),
      },
    });
    const raw = await fetch(`${sim.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4.1',
        input: 'hi',
        stream: true,
        tools: [withFiles(['file-missing'])],
      }),
    });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('content-type')).toBe('application/json');
    expect(await raw.json()).toEqual({
      error: {
        message: "File with id 'file-missing' not found.",
        type: 'invalid_request_error',
        param: 'tools[0].container.file_ids',
        code: null,
      },
    });
  });

  it('refuses file_ids that are not an array of strings', async () => {
    await expect(
      client.responses.create({
        model: 'gpt-4.1',
        input: 'hi',
        tools: [{ type: 'code_interpreter', container: { type: 'auto', file_ids: [7] } } as never],
      }),
    ).rejects.toMatchObject({ status: 400, error: { param: 'tools[0].container.file_ids' } });
  });

  it('with code=0 creates no container, yet still checks the file ids', async () => {
    const id = await upload(CSV, 'sales.csv');
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: '#sim code=0 tokens=2',
      tools: [withFiles([id])],
    });
    expect(res.output.map((o) => o.type)).toEqual(['message']);
    await expect(
      client.responses.create({
        model: 'gpt-4.1',
        input: '#sim code=0',
        tools: [withFiles(['file-gone'])],
      }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('serves the AzureOpenAI client: upload, run with file_ids, delete', async () => {
    const azure = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'azure-key',
      apiVersion: '2025-04-01-preview',
      maxRetries: 0,
    });
    const file = await azure.files.create({
      file: await toFile(Buffer.from(CSV), 'Umsätze.csv'),
      purpose: 'user_data',
    });
    const res = await azure.responses.create({
      model: 'my-deployment',
      input: '#sim tokens=1',
      tools: [withFiles([file.id])],
    });
    const call = res.output[0] as ResponseCodeInterpreterToolCall;
    expect(call.code).toContain('df_0 = pd.read_csv("/mnt/data/Umsätze.csv")');
    const logs = call.outputs?.[0]?.type === 'logs' ? call.outputs[0].logs : '';
    expect(logs.split('\n')[0]).toBe(
      `read /mnt/data/Umsätze.csv (${Buffer.byteLength(CSV)} bytes)`,
    );
    const [listed] = (await azure.containers.files.list(call.container_id)).data;
    const content = await azure.containers.files.content.retrieve(listed.id, {
      container_id: call.container_id,
    });
    expect(await content.text()).toBe(CSV);
    await azure.files.delete(file.id);
    expect(sim.files()).toEqual([]);
  });
});

describe('responsesDialect', () => {
  const body = (input: string): unknown => ({ model: 'gpt-4.1', input, tools: [CODE_TOOL] });
  const call = parseResponsesCreate(body('#sim files=a.csv'));

  it('runs the code when the reply is first encoded, so a request failed up front leaves no container', () => {
    const store = new ContainerStore();
    const dialect = responsesDialect(call, store, new UserFileStore());
    const reply = planReply(call.request);
    const encoder = dialect.encoder(reply);
    expect(store.size).toBe(0);
    encoder.open();
    expect(store.size).toBe(1);
    dialect.body(reply, 0);
    expect(store.size).toBe(2);
  });

  it('creates no container when the directive says code=0', () => {
    const store = new ContainerStore();
    const quiet = parseResponsesCreate(body('#sim code=0 files=a.csv'));
    responsesDialect(quiet, store, new UserFileStore()).body(planReply(quiet.request), 0);
    expect(store.size).toBe(0);
  });
});

describe('Azure OpenAI Responses API', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });
  afterAll(() => sim.close());

  it('serves /openai/responses to the AzureOpenAI client with the api-key header', async () => {
    const azure = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'azure-key',
      apiVersion: '2025-04-01-preview',
      maxRetries: 0,
    });
    const events = await collect(
      await azure.responses.create({
        model: 'my-deployment',
        input: '#sim tokens=2 files=a.csv',
        tools: [CODE_TOOL],
        stream: true,
      }),
    );
    const response = finalResponse(events);
    expect(response.model).toBe('my-deployment');
    const { container_id } = response.output[0] as ResponseCodeInterpreterToolCall;
    const files = await azure.containers.files.list(container_id);
    expect(files.data.map((f) => f.path)).toEqual(['/mnt/data/a.csv']);

    const log = (await (await fetch(`${sim.url}/_sim/requests?limit=1`)).json()) as {
      requests: { protocol: string; path: string }[];
    };
    expect(log.requests[0]).toEqual(
      expect.objectContaining({
        protocol: 'azure',
        path: '/openai/responses?api-version=2025-04-01-preview',
      }),
    );
  });

  it('serves /openai/v1/responses and /openai/v1/containers to the OpenAI client', async () => {
    const client = new OpenAI({ apiKey: 'k', baseURL: `${sim.url}/openai/v1`, maxRetries: 0 });
    const res = await client.responses.create({
      model: 'dep',
      input: '#sim tokens=1 text=yes files=c.png',
      tools: [CODE_TOOL],
    });
    expect(res.output_text).toBe('yes');
    const [cite] = messageText(res.output[1]).annotations;
    if (cite.type !== 'container_file_citation') throw new Error(cite.type);
    const content = await client.containers.files.content.retrieve(cite.file_id, {
      container_id: cite.container_id,
    });
    expect([...Buffer.from(await content.arrayBuffer()).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  });

  it('rejects a call without a key', async () => {
    const res = await fetch(`${sim.url}/openai/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dep', input: 'hi' }),
    });
    expect(res.status).toBe(401);
  });
});

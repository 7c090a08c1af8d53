import { Ajv2020 } from 'ajv/dist/2020';
import OpenAI from 'openai';
import { ADMIN_KEY, startHarness, type Harness } from './gateway.harness';

/**
 * Simulated models honour the request on every provider path: with a named tool
 * or tool_choice "required" they call a tool with arguments valid against its
 * JSON schema, with a json_schema format they answer schema-valid JSON, through
 * Chat Completions and the Responses API alike.
 */
const MODELS = [
  ['gpt-4o-mini', 'openai'],
  ['azure-gpt-4o-mini', 'azure'],
  ['bedrock-claude-haiku-4-5', 'bedrock'],
  ['gemini-2.5-flash', 'gemini'],
] as const;

const booking = {
  type: 'object',
  properties: {
    city: { type: 'string', minLength: 3 },
    nights: { type: 'integer', minimum: 2, maximum: 14 },
    room: { type: 'string', enum: ['single', 'double'] },
    guests: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 18 } },
        required: ['name', 'age'],
        additionalProperties: false,
      },
    },
  },
  required: ['city', 'nights', 'room', 'guests'],
  additionalProperties: false,
};
const validate = new Ajv2020({ strict: false }).compile(booking);

function expectValid(json: string): void {
  const value: unknown = JSON.parse(json);
  if (!validate(value)) throw new Error(`${json}: ${JSON.stringify(validate.errors)}`);
}

describe('simulated models honour tools and JSON schemas', () => {
  let h: Harness;
  let client: OpenAI;

  beforeAll(async () => {
    h = await startHarness({ MODELS_FILE: '' });
    client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${h.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => h.close());

  describe.each(MODELS)('%s (%s)', (model) => {
    it('chat completions: a named tool is called with schema-valid arguments', async () => {
      const r = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Book me a room' }],
        tools: [
          { type: 'function', function: { name: 'noop', parameters: { type: 'object' } } },
          { type: 'function', function: { name: 'book', parameters: booking } },
        ],
        tool_choice: { type: 'function', function: { name: 'book' } },
      });
      const call = r.choices[0].message.tool_calls?.[0];
      expect(call?.type === 'function' && call.function.name).toBe('book');
      if (call?.type === 'function') expectValid(call.function.arguments);
    });

    it('responses: tool_choice required streams a schema-valid function call', async () => {
      const stream = client.responses.stream({
        model,
        input: 'Book me a room',
        tools: [{ type: 'function', name: 'book', parameters: booking, strict: true }],
        tool_choice: 'required',
      });
      const final = await stream.finalResponse();
      const call = final.output.find((o) => o.type === 'function_call');
      expect(call?.type === 'function_call' && call.name).toBe('book');
      if (call?.type === 'function_call') expectValid(call.arguments);
    });

    it('responses: text.format json_schema answers schema-valid JSON', async () => {
      const r = await client.responses.create({
        model,
        input: 'Describe a booking',
        text: { format: { type: 'json_schema', name: 'booking', schema: booking, strict: true } },
      });
      expectValid(r.output_text);
    });

    it('chat completions: response_format json_schema answers schema-valid JSON (streamed)', async () => {
      const stream = await client.chat.completions.create({
        model,
        stream: true,
        messages: [{ role: 'user', content: 'Describe a booking' }],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'booking', schema: booking, strict: true },
        },
      });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      expectValid(text);
    });
  });
});

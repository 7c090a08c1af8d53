import { itemsToMessages, normaliseInput, responsesParams } from './responses-mapping';
import { responsesBodySchema } from './responses-request.schema';

const parse = (body: unknown) => responsesBodySchema(100).parse(body);

describe('Responses input as chat messages', () => {
  it('maps roles, parts and a turn of parallel function calls to one assistant message', () => {
    const body = parse({
      model: 'm',
      input: [
        { role: 'developer', content: 'be terse' },
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'look at ' },
            { type: 'input_image', image_url: 'data:image/png;base64,AAAA' },
          ],
        },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sure.' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{"a":1}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        {
          type: 'function_call_output',
          call_id: 'c2',
          output: [{ type: 'input_text', text: 'two' }],
        },
        { type: 'reasoning', id: 'rs_1', summary: [] },
      ],
    });
    const items = normaliseInput(body.input, new Map());
    expect(items.every((i) => typeof i.id === 'string' && i.id.length > 0)).toBe(true);
    expect(itemsToMessages(items)).toEqual([
      { role: 'system', content: 'be terse' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'look at ' },
          { type: 'image', url: 'data:image/png;base64,AAAA' },
        ],
      },
      {
        role: 'assistant',
        content: 'Sure.',
        toolCalls: [
          { id: 'c1', name: 'f', arguments: '{}' },
          { id: 'c2', name: 'g', arguments: '{"a":1}' },
        ],
      },
      { role: 'tool', content: 'one', toolCallId: 'c1' },
      { role: 'tool', content: 'two', toolCallId: 'c2' },
    ]);
  });

  it('a string input is one user message; an unknown item_reference is 404', () => {
    expect(itemsToMessages(normaliseInput('hi', new Map()))).toEqual([
      { role: 'user', content: 'hi' },
    ]);
    expect(() =>
      normaliseInput(
        parse({ model: 'm', input: [{ type: 'item_reference', id: 'x' }] }).input,
        new Map(),
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'not_found',
        extra: expect.objectContaining({ param: 'input.0.id' }),
      }),
    );
  });

  it('settings map to chat params', () => {
    const p = responsesParams(
      parse({
        model: 'm',
        input: 'x',
        max_output_tokens: 50,
        temperature: 0.2,
        tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
        tool_choice: { type: 'function', name: 'f' },
        text: {
          format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true },
        },
        reasoning: { effort: 'low' },
        safety_identifier: 'u1',
      }),
    );
    expect(p).toEqual({
      maxTokens: 50,
      temperature: 0.2,
      topP: undefined,
      tools: [{ name: 'f', description: undefined, parameters: { type: 'object' } }],
      toolChoice: { name: 'f' },
      responseFormat: {
        type: 'json_schema',
        name: 'out',
        schema: { type: 'object' },
        strict: true,
      },
      reasoningEffort: 'low',
      user: 'u1',
    });
  });
});

import { joinPieces, planReply, promptTokens, splitPieces, WORDS } from './reply.planner';

describe('promptTokens', () => {
  it('is ceil(total characters / 4) + 4 per message', () => {
    expect(promptTokens([])).toBe(0);
    expect(promptTokens([{ role: 'user', text: 'abcde' }])).toBe(2 + 4);
    expect(
      promptTokens([
        { role: 'system', text: 'abc' },
        { role: 'user', text: 'abcdef' },
      ]),
    ).toBe(3 + 8);
  });
});

describe('splitPieces', () => {
  it('keeps the exact text when joined', () => {
    const text = '  Hello  world,\nnew line\t tab ';
    expect(splitPieces(text).join('')).toBe(text);
    expect(splitPieces('a b c')).toEqual(['a ', 'b ', 'c']);
    expect(splitPieces('')).toEqual([]);
  });
});

describe('planReply', () => {
  const user = (text: string) => ({ model: 'm', messages: [{ role: 'user' as const, text }] });

  it('answers 12 default words by default', () => {
    const reply = planReply(user('hi'));
    expect(reply.pieces.count).toBe(12);
    expect(joinPieces(reply.pieces)).toBe(WORDS.slice(0, 12).join(' '));
    expect(reply.usage).toEqual({
      inputTokens: 5,
      cachedTokens: 0,
      outputTokens: 12,
      reasoningTokens: 0,
    });
  });

  it('repeats the word list past its end', () => {
    const reply = planReply(user(`#sim tokens=${WORDS.length + 1}`));
    expect(reply.pieces.at(WORDS.length)).toBe(` ${WORDS[0]}`);
  });

  it('adds cached tokens to input and keeps reasoning apart from visible output', () => {
    const reply = planReply(user('#sim tokens=3 cached=100 reasoning=7'));
    expect(reply.usage).toMatchObject({ cachedTokens: 100, outputTokens: 3, reasoningTokens: 7 });
    expect(reply.usage.inputTokens).toBe(
      promptTokens(user('#sim tokens=3 cached=100 reasoning=7').messages) + 100,
    );
  });

  it('reads the directive from the last user message only', () => {
    const reply = planReply({
      model: 'm',
      messages: [
        { role: 'user', text: '#sim tokens=1' },
        { role: 'assistant', text: 'x' },
        { role: 'user', text: 'plain' },
      ],
    });
    expect(reply.pieces.count).toBe(12);
  });

  it('answers a tool result with text when the directive names a tool', () => {
    const reply = planReply({
      model: 'm',
      messages: [
        { role: 'user', text: '#sim tool=f' },
        { role: 'assistant', text: 'f{}' },
        { role: 'tool', text: 'RESULT', toolName: 'f' },
      ],
    });
    expect(reply.toolCall).toBeUndefined();
    expect(joinPieces(reply.pieces)).toBe('Tool f returned: RESULT');
  });
});

describe('planReply honours tools and structured output', () => {
  const weather = {
    type: 'object',
    properties: { city: { type: 'string', minLength: 2 }, days: { type: 'integer', minimum: 3 } },
    required: ['city', 'days'],
    additionalProperties: false,
  };
  const tools = [
    { name: 'get_time', parameters: { type: 'object', properties: {} } },
    { name: 'get_weather', parameters: weather },
  ];
  const req = (text: string, extra: Record<string, unknown>) => ({
    model: 'm',
    messages: [{ role: 'user' as const, text }],
    ...extra,
  });

  it('a named tool_choice calls that tool with arguments valid against its schema', () => {
    const reply = planReply(req('hi', { tools, toolChoice: { name: 'get_weather' } }));
    expect(reply.finish).toBe('tool_calls');
    expect(reply.toolCall?.name).toBe('get_weather');
    const args = JSON.parse(reply.toolCall!.arguments) as { city: string; days: number };
    expect(args.city.length).toBeGreaterThanOrEqual(2);
    expect(args.days).toBeGreaterThanOrEqual(3);
    expect(joinPieces(reply.pieces)).toBe(reply.toolCall!.arguments);
  });

  it('tool_choice required calls the first tool; auto and none answer text', () => {
    expect(planReply(req('hi', { tools, toolChoice: 'required' })).toolCall?.name).toBe('get_time');
    expect(planReply(req('hi', { tools, toolChoice: 'auto' })).toolCall).toBeUndefined();
    expect(planReply(req('hi', { tools, toolChoice: 'none' })).toolCall).toBeUndefined();
    expect(planReply(req('hi', { tools })).toolCall).toBeUndefined();
  });

  it('a #sim tool directive still wins over tool_choice', () => {
    const reply = planReply(
      req('hi\n#sim tool=get_time args={"x":1}', { tools, toolChoice: { name: 'get_weather' } }),
    );
    expect(reply.toolCall).toMatchObject({ name: 'get_time', arguments: '{"x":1}' });
  });

  it('json_schema answers schema-valid JSON; json_object answers a JSON object', () => {
    const reply = planReply(req('hi', { format: { type: 'json_schema', schema: weather } }));
    expect(reply.finish).toBe('stop');
    const value = JSON.parse(joinPieces(reply.pieces)) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(['city', 'days']);
    expect(reply.usage.outputTokens).toBe(reply.pieces.count);
    const obj = JSON.parse(
      joinPieces(planReply(req('hi', { format: { type: 'json_object' } })).pieces),
    ) as Record<string, unknown>;
    expect(typeof obj.answer).toBe('string');
  });

  it('#sim tokens/text/echo still script the text of a json_schema request', () => {
    const reply = planReply(
      req('hi\n#sim tokens=3', { format: { type: 'json_schema', schema: weather } }),
    );
    expect(joinPieces(reply.pieces)).toBe('The quick brown');
  });
});

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

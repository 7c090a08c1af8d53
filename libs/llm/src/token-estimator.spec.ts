import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer';
import {
  RecentTextCounts,
  countCallerMessages,
  estimatePromptTokens,
  estimateTextTokens,
} from './token-estimator';

jest.mock('gpt-tokenizer', () => {
  const actual = jest.requireActual<typeof import('gpt-tokenizer')>('gpt-tokenizer');
  return { ...actual, countTokens: jest.fn(actual.countTokens) };
});
const tokenizerCalls = () => (countTokens as jest.Mock).mock.calls.length;

describe('token estimator', () => {
  it('counts known OpenAI tokenisations exactly', () => {
    expect(estimateTextTokens('hello world')).toBe(2);
    expect(estimateTextTokens('')).toBe(0);
  });

  it('is monotone under concatenation of whole messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 200 }), { minLength: 1, maxLength: 5 }),
        (texts) => {
          const msgs = texts.map((t) => ({ role: 'user' as const, content: t }));
          return estimatePromptTokens(msgs) >= estimatePromptTokens(msgs.slice(0, -1));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('stays within a few percent of exact beyond the exact window and handles pathological runs', () => {
    const para = 'The quick brown fox jumps over the lazy dog. ';
    const text = para.repeat(4000); // ~180 KB
    const est = estimateTextTokens(text);
    const exact = 10 * 4000; // 10 tokens per sentence
    expect(Math.abs(est - exact) / exact).toBeLessThan(0.05);
    expect(estimateTextTokens('x'.repeat(300_000))).toBeGreaterThan(30_000);
  });

  it('tokenises a message and a tools array once, however many stages count them', () => {
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'What is the weather in Paris today?' },
    ];
    const tools = [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object' } }];
    const first = estimatePromptTokens(messages, tools);
    const calls = tokenizerCalls();
    // later stages pass copies of the array holding the same message objects
    expect(estimatePromptTokens([...messages], tools)).toBe(first);
    expect(estimatePromptTokens(messages.slice(1), tools)).toBeLessThan(first);
    expect(tokenizerCalls()).toBe(calls);
    // a changed message is a new object and is counted afresh
    const edited = [messages[0], { ...messages[1], content: 'And in Rome?' }];
    expect(estimatePromptTokens(edited, tools)).not.toBe(first);
    expect(tokenizerCalls()).toBe(calls + 1);
  });

  it('counts a resent text (the system prompt, the history of a chat) without the tokenizer', () => {
    const system = { role: 'system' as const, content: 'You answer in French, briefly.' };
    const turn1 = [system, { role: 'user' as const, content: 'Quelle heure est-il ?' }];
    countCallerMessages('alice', turn1);
    const first = estimatePromptTokens(turn1);
    const calls = tokenizerCalls();
    // the next request parses new objects with the same texts, plus one new message
    const turn2 = [
      { ...system },
      { ...turn1[1] },
      { role: 'assistant' as const, content: 'Il est midi.' },
      { role: 'user' as const, content: 'Merci.' },
    ];
    countCallerMessages('alice', turn2);
    const second = estimatePromptTokens(turn2);
    expect(tokenizerCalls()).toBe(calls + 2);
    expect(second).toBe(
      first + 8 + estimateTextTokens('Il est midi.') + estimateTextTokens('Merci.'),
    );
  });

  it("never answers one caller from another's texts (no timing tells who sent what)", () => {
    const secret = { role: 'user' as const, content: 'Project Heron ships on 3 March.' };
    countCallerMessages('alice', [secret]);
    const calls = tokenizerCalls();
    countCallerMessages('mallory', [{ ...secret }]);
    expect(tokenizerCalls()).toBe(calls + 1);
    // and messages counted without a caller never use the recent texts
    estimatePromptTokens([{ ...secret }]);
    expect(tokenizerCalls()).toBe(calls + 2);
  });

  it('keeps recent texts up to its character bound, oldest out first, and not oversized ones', () => {
    const cache = new RecentTextCounts(20, 10);
    expect(cache.count('', 'aaaa bbbb')).toBe(estimateTextTokens('aaaa bbbb')); // 9 chars
    cache.count('', 'cccc dddd'); // 18
    expect(cache.size).toBe(2);
    cache.count('', 'eeee'); // 22 > 20: the oldest goes
    expect(cache.size).toBe(2);
    const calls = tokenizerCalls();
    cache.count('', 'cccc dddd');
    cache.count('', 'eeee');
    expect(tokenizerCalls()).toBe(calls);
    cache.count('', 'aaaa bbbb'); // evicted: counted again
    expect(tokenizerCalls()).toBe(calls + 1);
    const long = 'x'.repeat(11);
    expect(cache.count('', long)).toBe(estimateTextTokens(long));
    cache.count('', long);
    expect(cache.size).toBe(2); // never kept: 'aaaa bbbb' evicted 'cccc dddd' meanwhile
    // and by the number of texts
    const few = new RecentTextCounts(1_000, 100, 2);
    for (const t of ['one', 'two', 'three']) few.count('', t);
    expect(few.size).toBe(2);
    const before = tokenizerCalls();
    few.count('', 'three');
    few.count('', 'one'); // the oldest went
    expect(tokenizerCalls()).toBe(before + 1);
  });
});

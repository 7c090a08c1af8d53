import fc from 'fast-check';
import { estimatePromptTokens, estimateTextTokens } from './token-estimator';

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
});

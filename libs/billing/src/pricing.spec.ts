import fc from 'fast-check';
import type { ModelPricing, TokenUsage } from '@switchboard/llm';
import { costMicros, worstCaseCostMicros } from './pricing';

const price = (input: number, cachedInput: number, output: number): ModelPricing => ({
  input,
  cachedInput,
  output,
  checked: '2026-01-01',
});

const usage = (
  inputTokens: number,
  cachedInputTokens: number,
  outputTokens: number,
  reasoningTokens = 0,
): TokenUsage => ({
  inputTokens,
  cachedInputTokens,
  outputTokens,
  reasoningTokens,
});

// prices with up to 4 decimals, $0..$200 per million tokens; cached never above input
const arbPricing = fc
  .tuple(
    fc.integer({ min: 0, max: 2_000_000 }),
    fc.integer({ min: 0, max: 2_000_000 }),
    fc.integer({ min: 0, max: 2_000_000 }),
  )
  .map(([i, c, o]) => price(i / 10_000, Math.min(c, i) / 10_000, o / 10_000));

const tokenCount = fc.integer({ min: 0, max: 5_000_000 });

const arbUsage = fc
  .tuple(tokenCount, tokenCount, tokenCount, fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([input, cachedRaw, output, reasoningFrac]) =>
    usage(input, cachedRaw % (input + 1), output, Math.floor(output * reasoningFrac)),
  );

const add = (a: TokenUsage, b: TokenUsage): TokenUsage =>
  usage(
    a.inputTokens + b.inputTokens,
    a.cachedInputTokens + b.cachedInputTokens,
    a.outputTokens + b.outputTokens,
    a.reasoningTokens + b.reasoningTokens,
  );

describe('costMicros', () => {
  it('charges uncached input, cached input and output at their prices', () => {
    // gpt-4o-ish: $2.50 in, $1.25 cached, $10 out per million
    expect(costMicros(usage(1_000, 400, 500, 200), price(2.5, 1.25, 10))).toBe(
      600 * 2.5 + 400 * 1.25 + 500 * 10,
    );
  });

  it('does not round each component (no float drift, one ceil at the end)', () => {
    expect(costMicros(usage(1_000, 0, 0), price(0.15, 0.075, 0.6))).toBe(150);
    expect(costMicros(usage(1, 1, 1), price(0.3, 0.3, 0.3))).toBe(1); // 0.6 -> 1, not 0.3->1 + 0.3->1
    expect(costMicros(usage(3, 0, 0), price(0.1, 0, 0))).toBe(1);
    expect(costMicros(usage(0, 0, 0), price(5, 1, 20))).toBe(0);
  });

  it('caps cached tokens at input tokens and ignores negative counts', () => {
    expect(costMicros(usage(10, 50, 0), price(1, 0.5, 0))).toBe(5);
    expect(costMicros(usage(-5, -1, -3), price(1, 1, 1))).toBe(0);
  });

  it('rejects invalid prices', () => {
    expect(() => costMicros(usage(1, 0, 0), price(-1, 0, 0))).toThrow(RangeError);
    expect(() => costMicros(usage(1, 0, 0), price(Number.NaN, 0, 0))).toThrow(RangeError);
  });

  it('is monotone in input, output and cached-input token counts', () => {
    fc.assert(
      fc.property(arbUsage, arbPricing, fc.integer({ min: 0, max: 100_000 }), (u, p, k) => {
        const base = costMicros(u, p);
        expect(costMicros({ ...u, inputTokens: u.inputTokens + k }, p)).toBeGreaterThanOrEqual(
          base,
        );
        expect(costMicros({ ...u, outputTokens: u.outputTokens + k }, p)).toBeGreaterThanOrEqual(
          base,
        );
        // more cached tokens in a larger prompt (cached are part of input)
        expect(
          costMicros(
            { ...u, inputTokens: u.inputTokens + k, cachedInputTokens: u.cachedInputTokens + k },
            p,
          ),
        ).toBeGreaterThanOrEqual(base);
      }),
    );
  });

  it('is additive within rounding: cost(a) + cost(b) - cost(a+b) is 0 or 1', () => {
    fc.assert(
      fc.property(arbUsage, arbUsage, arbPricing, (a, b, p) => {
        const diff = costMicros(a, p) + costMicros(b, p) - costMicros(add(a, b), p);
        expect(diff).toBeGreaterThanOrEqual(0);
        expect(diff).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('never charges a cached token more than an uncached one', () => {
    fc.assert(
      fc.property(arbUsage, arbPricing, fc.integer({ min: 0, max: 100_000 }), (u, p, k) => {
        const uncached = u.inputTokens - u.cachedInputTokens;
        const moved = Math.min(k, uncached);
        // turning some uncached tokens into cached ones never raises the cost
        expect(
          costMicros({ ...u, cachedInputTokens: u.cachedInputTokens + moved }, p),
        ).toBeLessThanOrEqual(costMicros(u, p));
      }),
    );
  });

  it('never double counts reasoning tokens (they are part of output)', () => {
    fc.assert(
      fc.property(arbUsage, arbPricing, (u, p) => {
        expect(costMicros(u, p)).toBe(costMicros({ ...u, reasoningTokens: 0 }, p));
        expect(costMicros(u, p)).toBe(costMicros({ ...u, reasoningTokens: u.outputTokens }, p));
      }),
    );
  });
});

describe('code-interpreter container sessions', () => {
  const withSession = { ...price(2.5, 1.25, 10), codeInterpreterSession: 0.03 };

  it('adds the session price (USD) per container, in exact micro-dollars', () => {
    const u = { ...usage(1_000, 0, 500), codeInterpreterSessions: 2 };
    expect(costMicros(u, withSession)).toBe(2_500 + 5_000 + 2 * 30_000);
  });

  it('charges nothing for sessions when the model has no session price', () => {
    const u = { ...usage(1_000, 0, 500), codeInterpreterSessions: 3 };
    expect(costMicros(u, price(2.5, 1.25, 10))).toBe(2_500 + 5_000);
  });

  it('holds the sessions a plan asks for', () => {
    expect(worstCaseCostMicros(1_000, 500, withSession, 1)).toBe(2_500 + 5_000 + 30_000);
    expect(worstCaseCostMicros(1_000, 500, withSession)).toBe(2_500 + 5_000);
  });
});

describe('worstCaseCostMicros', () => {
  it('prices every prompt token uncached and every allowed output token', () => {
    expect(worstCaseCostMicros(1_000, 4_096, price(2.5, 1.25, 10))).toBe(2_500 + 40_960);
  });

  it('bounds the actual cost of any call within the estimate', () => {
    fc.assert(
      fc.property(arbUsage, arbPricing, (u, p) => {
        expect(costMicros(u, p)).toBeLessThanOrEqual(
          worstCaseCostMicros(u.inputTokens, u.outputTokens, p),
        );
      }),
    );
  });
});

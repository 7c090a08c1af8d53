import type { ModelPricing, TokenUsage } from '@switchboard/llm';

/**
 * Prices are USD per million tokens, so a price is also micro-dollars per token.
 * Arithmetic is exact: prices are scaled to integers (1e-6 micro-dollar
 * resolution) and multiplied as BigInt, and the total is rounded up once at the
 * end. Floating point would turn 1000 tokens x $0.15/M into 150.00000000000003
 * and bill 151.
 */
const PRICE_SCALE = 1_000_000n;

function scaledPrice(price: number, name: string): bigint {
  if (!Number.isFinite(price) || price < 0) throw new RangeError(`invalid ${name} price ${price}`);
  return BigInt(Math.round(price * Number(PRICE_SCALE)));
}

/** token counts from providers are trusted but not blindly: negative/NaN -> 0, fractions round up */
function tokens(n: number): bigint {
  if (!Number.isFinite(n) || n <= 0) return 0n;
  return BigInt(Math.ceil(n));
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/**
 * Cost of one upstream call in integer micro-dollars.
 * - input tokens include cached ones: the uncached part is charged at `input`,
 *   the cached part at `cachedInput` (cached beyond input is capped at input);
 * - output tokens already include reasoning tokens, so reasoning is not charged again;
 * - each hosted code-interpreter container is charged `codeInterpreterSession` USD.
 */
export function costMicros(usage: TokenUsage, pricing: ModelPricing): number {
  const input = tokens(usage.inputTokens);
  const cachedRaw = tokens(usage.cachedInputTokens);
  const cached = cachedRaw > input ? input : cachedRaw;
  const uncached = input - cached;
  const output = tokens(usage.outputTokens);
  const scaled =
    uncached * scaledPrice(pricing.input, 'input') +
    cached * scaledPrice(pricing.cachedInput, 'cachedInput') +
    output * scaledPrice(pricing.output, 'output') +
    // a session price is USD, not USD per million: scale it to micro-dollars
    tokens(usage.codeInterpreterSessions ?? 0) *
      scaledPrice(pricing.codeInterpreterSession ?? 0, 'codeInterpreterSession') *
      1_000_000n;
  return Number(ceilDiv(scaled, PRICE_SCALE));
}

/**
 * The most a request can cost: every prompt token uncached, every allowed
 * output token produced. This is the amount held against budgets.
 */
export function worstCaseCostMicros(
  estimatedPromptTokens: number,
  maxOutputTokens: number,
  pricing: ModelPricing,
  codeInterpreterSessions = 0,
): number {
  return costMicros(
    {
      inputTokens: estimatedPromptTokens,
      cachedInputTokens: 0,
      outputTokens: maxOutputTokens,
      reasoningTokens: 0,
      codeInterpreterSessions,
    },
    pricing,
  );
}

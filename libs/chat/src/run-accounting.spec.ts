import { worstCaseCostMicros } from '@switchboard/billing';
import { CallAttempt, type ServedModel } from '@switchboard/llm';
import { closeLast, holdMicros, totalOf } from './run-accounting';

function model(id: string, output: number, maxOutputTokens = 1000): ServedModel {
  return {
    id,
    provider: 'openai',
    upstreamModel: id,
    contextWindow: 8000,
    maxOutputTokens,
    pricing: { input: 1, cachedInput: 0.5, output, checked: '2026-01-01' },
    capabilities: ['chat'],
    simulated: true,
  };
}

describe('holdMicros', () => {
  it('holds every planned call at the dearest model of its chain, capped by its max output', () => {
    const cheap = model('cheap', 1);
    const dear = model('dear', 10, 200);
    const hold = holdMicros(
      [
        { modelId: 'a', promptTokens: 100, maxOutputTokens: 500 },
        { modelId: 'b', promptTokens: 50, maxOutputTokens: 50 },
      ],
      (id) => (id === 'a' ? [cheap, dear] : [cheap]),
    );
    const a = Math.max(
      worstCaseCostMicros(100, 500, cheap.pricing),
      worstCaseCostMicros(100, 200, dear.pricing),
    );
    expect(hold).toBe(a + worstCaseCostMicros(50, 50, cheap.pricing));
  });
});

describe('totalOf and closeLast', () => {
  it('adds every call up under the last one and ends it the way the run ended', () => {
    const first = new CallAttempt(1, model('p', 2), 'openai', 10);
    first.status = 'error';
    const last = new CallAttempt(2, model('f', 2), 'openai', 10);
    last.reported = true;
    last.usage = { inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningTokens: 0 };
    expect(totalOf([], 'r')).toBeUndefined();
    closeLast([first, last], 'cancelled', undefined);
    const total = totalOf([first, last], 'r')!;
    expect(total).toMatchObject({
      model: 'f',
      attempt: 2,
      calls: 2,
      status: 'cancelled',
      errorCode: 'cancelled',
      usage: { inputTokens: 10, outputTokens: 5 },
    });
  });
});

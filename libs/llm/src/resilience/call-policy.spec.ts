import fc from 'fast-check';
import { AppError } from '@switchboard/common';
import type { ServedModel } from '../llm.service';
import { UpstreamError } from '../upstream-error';
import { CallAttempt } from './call-attempt';
import {
  checkCapabilities,
  nextStep,
  planModels,
  skipsToFallback,
  type CallRequest,
  type FailedCall,
} from './call-policy';

function model(id: string, over: Partial<ServedModel> = {}): ServedModel {
  return {
    id,
    provider: 'openai',
    upstreamModel: id,
    contextWindow: 8000,
    maxOutputTokens: 1000,
    pricing: { input: 1, cachedInput: 0.5, output: 2, checked: '2026-01-01' },
    capabilities: ['chat'],
    simulated: true,
    ...over,
  };
}

const hello: CallRequest = { messages: [{ role: 'user', content: 'hi' }], params: {} };
const retryable = new UpstreamError('upstream_error', 'boom', true);

const failed = (over: Partial<FailedCall> = {}): FailedCall => ({
  produced: false,
  retry: 0,
  modelIdx: 0,
  planLength: 2,
  waitMs: 100,
  now: 0,
  deadline: 10_000,
  maxRetries: 2,
  ...over,
});

describe('nextStep', () => {
  it('retries the same model while retries are left and the wait fits the deadline', () => {
    expect(nextStep(retryable, failed({ retry: 1, waitMs: 300 }))).toEqual({
      kind: 'retry',
      waitMs: 300,
    });
  });

  it('falls back once retries are spent, or when the wait would pass the deadline', () => {
    expect(nextStep(retryable, failed({ retry: 2 }))).toEqual({ kind: 'fallback' });
    expect(nextStep(retryable, failed({ now: 9_950, waitMs: 100 }))).toEqual({
      kind: 'fallback',
    });
  });

  it('fails on the last model, after the deadline, once output left, or for a non-retryable error', () => {
    expect(nextStep(retryable, failed({ retry: 2, modelIdx: 1 }))).toEqual({ kind: 'fail' });
    expect(nextStep(retryable, failed({ retry: 2, now: 10_000 }))).toEqual({ kind: 'fail' });
    expect(nextStep(retryable, failed({ produced: true }))).toEqual({ kind: 'fail' });
    expect(nextStep(new UpstreamError('upstream_error', 'bad', false), failed())).toEqual({
      kind: 'fail',
    });
    expect(nextStep(new AppError('invalid_request'), failed())).toEqual({ kind: 'fail' });
  });

  it('never retries once output left and never starts anything past the deadline', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.nat(5),
        fc.nat(3),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(5000),
        fc.nat(20_000),
        (produced, retry, modelIdx, planLength, waitMs, now) => {
          const c = failed({ produced, retry, modelIdx, planLength, waitMs, now });
          const step = nextStep(retryable, c);
          if (produced) expect(step.kind).toBe('fail');
          if (step.kind === 'retry') {
            expect(retry).toBeLessThan(c.maxRetries);
            expect(now + waitMs).toBeLessThan(c.deadline);
          }
          if (step.kind === 'fallback') {
            expect(modelIdx + 1).toBeLessThan(planLength);
            expect(now).toBeLessThan(c.deadline);
          }
        },
      ),
    );
  });
});

describe('skipsToFallback', () => {
  it('moves past a model the prompt does not fit or whose circuit is open, if one is left', () => {
    const open = new UpstreamError('upstream_unavailable', 'circuit open', true);
    expect(skipsToFallback(new AppError('context_length_exceeded'), 0, 2)).toBe(true);
    expect(skipsToFallback(open, 0, 2)).toBe(true);
    expect(skipsToFallback(open, 1, 2)).toBe(false);
    expect(skipsToFallback(new AppError('invalid_request'), 0, 2)).toBe(false);
  });
});

describe('checkCapabilities', () => {
  const err = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      const a = e as AppError;
      return { code: a.code, param: a.extra.param };
    }
    return undefined;
  };

  it('names the parameter the primary model cannot take', () => {
    const m = model('m');
    expect(
      err(() => checkCapabilities(model('e', { capabilities: ['embeddings'] }), hello, true)),
    ).toEqual({ code: 'model_not_found', param: 'model' });
    expect(
      err(() => checkCapabilities(m, { ...hello, params: { maxTokens: 2000 } }, true)),
    ).toEqual({ code: 'invalid_request', param: 'max_tokens' });
    expect(
      err(() =>
        checkCapabilities(
          m,
          {
            ...hello,
            params: { tools: [{ name: 'f' }] },
          },
          true,
        ),
      ),
    ).toEqual({ code: 'unsupported_parameter', param: 'tools' });
    expect(
      err(() => checkCapabilities(m, { ...hello, params: { reasoningEffort: 'low' } }, true)),
    ).toEqual({ code: 'unsupported_parameter', param: 'reasoning_effort' });
    expect(
      err(() =>
        checkCapabilities(
          m,
          {
            messages: [
              { role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,AA' }] },
            ],
            params: {},
          },
          true,
        ),
      ),
    ).toEqual({ code: 'unsupported_parameter', param: 'messages' });
    expect(err(() => checkCapabilities(m, hello, true))).toBeUndefined();
  });
});

describe('planModels', () => {
  it('keeps the served fallbacks that can take the request, in order', () => {
    const served = new Map([
      ['small', model('small', { maxOutputTokens: 100 })],
      ['big', model('big', { maxOutputTokens: 4000 })],
    ]);
    const resolve = (id: string) => {
      const m = served.get(id);
      if (!m) throw new AppError('model_not_found');
      return m;
    };
    const primary = model('p', { maxOutputTokens: 4000, fallbacks: ['gone', 'small', 'big'] });
    const plan = planModels(primary, resolve, { ...hello, params: { maxTokens: 500 } });
    expect(plan.map((m) => m.id)).toEqual(['p', 'big']);
  });
});

describe('CallAttempt.billedUsage', () => {
  it('bills reported usage as is, a call that failed before output as nothing, else an estimate', () => {
    const a = new CallAttempt(1, model('m'), 'openai', 42, 1);
    a.status = 'error';
    expect(a.billedUsage().inputTokens).toBe(0);
    a.upstreamTtftMs = 5;
    a.outputText = 'some words here';
    a.toolArgChars = 8;
    const est = a.billedUsage();
    expect(est.inputTokens).toBe(42);
    expect(est.outputTokens).toBeGreaterThanOrEqual(2);
    expect(est.codeInterpreterSessions).toBe(1);
    a.reported = true;
    a.usage = { inputTokens: 7, cachedInputTokens: 0, outputTokens: 3, reasoningTokens: 0 };
    expect(a.billedUsage()).toEqual(a.usage);
  });
});

import { AppError } from '@switchboard/common';
import type { Capability } from '../catalogue.types';
import type { ServedModel } from '../llm.service';
import type { ChatMessage, ProviderChatRequest } from '../chat.types';
import { isUpstreamError, type UpstreamError } from '../upstream-error';

/** What a model call asks of a model: its messages and parameters. */
export interface CallRequest {
  messages: ChatMessage[];
  params: Omit<ProviderChatRequest, 'upstreamModel' | 'messages'>;
}

type CheckCode =
  'model_not_found' | 'invalid_request' | 'unsupported_parameter' | 'unsupported_capability';

function fail(code: CheckCode, msg: string, param: string): never {
  throw new AppError(code, msg, { param });
}

function hasImages(messages: ChatMessage[]): boolean {
  return messages.some(
    (m) => typeof m.content !== 'string' && m.content.some((c) => c.type === 'image'),
  );
}

/**
 * Throws the client error that keeps `model` from answering `req`. The primary
 * model names the offending parameter; a fallback that cannot honour max_tokens
 * is only skipped.
 */
export function checkCapabilities(model: ServedModel, req: CallRequest, primary: boolean): void {
  const p = req.params;
  const has = (c: Capability) => model.capabilities.includes(c);
  if (!has('chat'))
    fail('model_not_found', `The model "${model.id}" is not a chat model.`, 'model');
  if (p.maxTokens !== undefined && p.maxTokens > model.maxOutputTokens && primary)
    fail(
      'invalid_request',
      `max_tokens must be at most ${model.maxOutputTokens} for ${model.id}.`,
      'max_tokens',
    );
  if (p.tools?.length && !has('tools'))
    fail('unsupported_parameter', `${model.id} does not support tools.`, 'tools');
  for (const t of p.hostedTools ?? [])
    if (!has(t.type))
      fail('unsupported_capability', `${model.id} does not offer hosted ${t.type}.`, 'model');
  if (p.responseFormat?.type === 'json_schema' && !has('json_schema'))
    fail(
      'unsupported_parameter',
      `${model.id} does not support json_schema output.`,
      'response_format',
    );
  if (p.reasoningEffort && !has('reasoning'))
    fail(
      'unsupported_parameter',
      `${model.id} does not support reasoning_effort.`,
      'reasoning_effort',
    );
  if (!primary && p.maxTokens !== undefined && p.maxTokens > model.maxOutputTokens)
    fail('invalid_request', 'fallback cannot honour max_tokens', 'max_tokens');
  if (hasImages(req.messages) && !has('vision'))
    fail('unsupported_parameter', `${model.id} does not accept images.`, 'messages');
}

/** The primary model, then every fallback that resolves and can take the request. */
export function planModels(
  primary: ServedModel,
  resolve: (id: string) => ServedModel,
  req: CallRequest,
): ServedModel[] {
  const plan = [primary];
  for (const id of primary.fallbacks ?? []) {
    try {
      const m = resolve(id);
      checkCapabilities(m, req, false);
      plan.push(m);
    } catch {
      // a fallback that is not served or cannot take this request is skipped
    }
  }
  return plan;
}

/** Where a failed upstream call goes next. */
export type NextStep = { kind: 'retry'; waitMs: number } | { kind: 'fallback' } | { kind: 'fail' };

export interface FailedCall {
  /** the failed call had sent output on: nothing may be repeated */
  produced: boolean;
  /** retries of this model so far */
  retry: number;
  /** position of this model in the plan */
  modelIdx: number;
  planLength: number;
  /** backoff before the next retry of this model */
  waitMs: number;
  now: number;
  deadline: number;
  maxRetries: number;
}

/**
 * Retry the same model while retries are left and the wait fits the deadline;
 * else fall back while the deadline lasts; never once output reached the client
 * or for an error a retry cannot fix.
 */
export function nextStep(err: AppError, c: FailedCall): NextStep {
  if (c.produced || !isRetryable(err)) return { kind: 'fail' };
  if (c.retry < c.maxRetries && c.now + c.waitMs < c.deadline)
    return { kind: 'retry', waitMs: c.waitMs };
  if (c.modelIdx + 1 < c.planLength && c.now < c.deadline) return { kind: 'fallback' };
  return { kind: 'fail' };
}

export function isRetryable(err: AppError): err is UpstreamError {
  return isUpstreamError(err) && err.retryable;
}

/**
 * A failure before any upstream call (prompt over the context window, open
 * circuit) moves to the next model at once, if there is one.
 */
export function skipsToFallback(err: AppError, modelIdx: number, planLength: number): boolean {
  const movable = err.code === 'context_length_exceeded' || isRetryable(err);
  return movable && modelIdx + 1 < planLength;
}

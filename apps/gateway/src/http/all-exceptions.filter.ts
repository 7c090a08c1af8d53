import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import { AppError, toAppError, type ErrorCode } from '@switchboard/common';
import type { Response } from 'express';
import type { GatewayRequest } from './request.types';
import { sendError } from './send-error';

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** Body-parser and framework errors carry a status; everything else is internal. */
export function classify(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const anyE = e as { type?: string; status?: number; statusCode?: number };
  if (anyE?.type === 'entity.too.large') {
    const limit = (e as { limit?: unknown }).limit;
    return new AppError(
      'payload_too_large',
      typeof limit === 'number'
        ? `The request body is larger than the limit of ${limit} bytes (BODY_LIMIT_BYTES).`
        : undefined,
    );
  }
  if (anyE?.type === 'entity.parse.failed') return new AppError('invalid_json');
  if (anyE?.type === 'encoding.unsupported' || anyE?.type === 'charset.unsupported')
    return new AppError('unsupported_media_type');
  if (e instanceof HttpException) {
    const code = STATUS_CODES[e.getStatus()];
    if (code) return new AppError(code);
  }
  const status = anyE?.status ?? anyE?.statusCode;
  if (typeof status === 'number' && STATUS_CODES[status]) return new AppError(STATUS_CODES[status]);
  return toAppError(e);
}

const log = new Logger('http');

/** What a route's thrown error answers (and a 5xx is logged): the filter's work, for any caller. */
export function answerThrown(exception: unknown, req: GatewayRequest, res: Response): void {
  const err = classify(exception);
  if (err.status >= 500) log.error({ err: exception, requestId: req.requestId }, 'request failed');
  sendError(res, err, req.requestId);
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    answerThrown(exception, ctx.getRequest<GatewayRequest>(), ctx.getResponse<Response>());
  }
}

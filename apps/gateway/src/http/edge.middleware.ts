import type { Authenticator, Principal } from '@switchboard/auth';
import { newRequestId, normaliseRequestId } from '@switchboard/common';
import type { NextFunction, Response } from 'express';
import type { GatewayRequest } from './request.types';
import { classify } from './all-exceptions.filter';
import { sendError } from './send-error';

export const PUBLIC_PATHS = new Set(['/health', '/ready', '/metrics', '/openapi.json', '/docs']);

/** The reference page's files (a fixed allowlist, see DocsController). */
const PUBLIC_PREFIX = '/docs/';

/** Assigns the request id (caller's x-request-id if safe) and echoes it. */
export function requestIdMiddleware(req: GatewayRequest, res: Response, next: NextFunction): void {
  req.receivedAt = performance.now();
  req.clientRequestId = normaliseRequestId(req.headers['x-request-id']);
  req.requestId = req.clientRequestId ?? newRequestId();
  res.setHeader('x-request-id', req.requestId);
  next();
}

/**
 * Authenticates before the body is read, so an unauthenticated caller costs no
 * body parsing (401 with no body read). Scope checks happen per route in the guard.
 */
export function authenticationMiddleware(auth: Authenticator) {
  return (req: GatewayRequest, res: Response, next: NextFunction): void => {
    if (
      PUBLIC_PATHS.has(req.path) ||
      req.path.startsWith(PUBLIC_PREFIX) ||
      req.method === 'OPTIONS'
    )
      return next();
    auth.authenticate(req.headers.authorization).then(
      (p: Principal) => {
        req.principal = p;
        next();
      },
      (e: unknown) => {
        // Unread request bodies would otherwise keep the socket busy.
        res.setHeader('Connection', 'close');
        sendError(res, classify(e), req.requestId);
      },
    );
  };
}

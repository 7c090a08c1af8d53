import { newRequestId } from '@switchboard/common';
import type { Response } from 'express';
import type { GatewayRequest } from './request.types';

/**
 * Who a billable request is, as the gateway sees it.
 *
 * - `requestId` is always the server's: unique, never chosen by a client. It
 *   keys the budget hold, the concurrency slot and the ledger rows.
 * - `clientRequestId` is the id the client sent (`options.requestId`, else its
 *   `x-request-id`), if any: a correlation id scoped to the caller, unique among
 *   the caller's requests in flight.
 * - `correlationId` is what the client knows the request by: its own id, else
 *   the server's. It is echoed in `x-request-id`, names the request to the kill
 *   switch and appears in error bodies.
 */
export interface RequestIdentity {
  requestId: string;
  clientRequestId?: string;
  correlationId: string;
}

export function requestIdentity(req: GatewayRequest, bodyRequestId?: string): RequestIdentity {
  const clientRequestId = bodyRequestId ?? req.clientRequestId;
  if (clientRequestId === undefined)
    // nothing client-chosen: the id generated at the edge is the server's own
    return { requestId: req.requestId, correlationId: req.requestId };
  return { requestId: newRequestId(), clientRequestId, correlationId: clientRequestId };
}

/** `x-request-id` names the request as the client knows it; the server id goes alongside. */
export function setIdentityHeaders(res: Response, id: RequestIdentity): void {
  res.setHeader('x-request-id', id.correlationId);
  if (id.requestId !== id.correlationId) res.setHeader('x-switchboard-request-id', id.requestId);
}

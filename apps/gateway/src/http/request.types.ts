import type { Principal } from '@switchboard/auth';
import type { Request } from 'express';

/** What the edge middlewares attach to every request. */
export interface GatewayRequest extends Request {
  /** echoed in x-request-id: the caller's x-request-id if it sent a safe one, else generated */
  requestId: string;
  /** the caller's own x-request-id, when it sent a safe one */
  clientRequestId?: string;
  receivedAt: number;
  principal?: Principal;
}

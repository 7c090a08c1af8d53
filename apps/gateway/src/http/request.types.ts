import type { Principal } from '@switchboard/auth';
import type { Request } from 'express';

/** What the edge middlewares attach to every request. */
export interface GatewayRequest extends Request {
  requestId: string;
  receivedAt: number;
  principal?: Principal;
}

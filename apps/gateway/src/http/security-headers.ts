import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's security headers, worked out once at boot and set from a list on every
 * response. Without a Content-Security-Policy (the web app sets its own) none of
 * helmet's headers depends on the request, so running its dozen middlewares per
 * request would compute the same list each time. Options under which helmet reads
 * the request or does not finish synchronously keep helmet itself per request.
 */
export function securityHeaders(options: HelmetOptions): RequestHandler {
  const set: Array<[string, string]> = [];
  const removed: string[] = [];
  let finished = false;
  const recorder = {
    setHeader: (name: string, value: unknown) => set.push([name, String(value)]),
    removeHeader: (name: string) => removed.push(name),
  };
  const probe = new Proxy({} as Request, {
    get: () => {
      throw new Error('reads the request');
    },
  });
  const perRequest = helmet(options);
  try {
    perRequest(probe, recorder as unknown as Response, (err?: unknown) => {
      finished = err === undefined;
    });
  } catch {
    finished = false;
  }
  if (!finished) return perRequest;
  return (_req: Request, res: Response, next: NextFunction): void => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}

import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/** a request handler `(req, res, next)` or an error handler `(err, req, res, next)`, for any request type */
export type Middleware =
  | ((req: never, res: never, next: NextFunction) => unknown)
  | ((err: never, req: never, res: never, next: NextFunction) => unknown);

/**
 * Middlewares that would each be mounted at `/`, one after the other, as one:
 * they run in order under Express's rules, without the router matching a layer
 * per middleware on every request.
 * - A handler of four parameters only runs for an error; the others only without one.
 * - A throw, a rejected promise or `next(err)` is an error, passed on to the next
 *   error handler.
 * - `next('route')` goes on as `next()` does (there is no route to skip here);
 *   `next('router')` leaves the group and the router it is mounted on.
 * - Past the last handler, the group calls Express's `next` with what is pending.
 */
export function composeMiddleware(handlers: readonly Middleware[]): RequestHandler {
  const list = handlers.map((fn) => ({ fn, forErrors: fn.length === 4 }));
  return (req: Request, res: Response, done: NextFunction): void => {
    let i = 0;
    const next = (signal?: unknown): void => {
      if (signal === 'router') return done(signal);
      const err = signal === 'route' ? undefined : signal;
      while (i < list.length) {
        const { fn, forErrors } = list[i++];
        if (Boolean(err) !== forErrors) continue;
        try {
          const ret: unknown = err
            ? (fn as unknown as ErrorRequestHandler)(err, req, res, next)
            : (fn as unknown as RequestHandler)(req, res, next);
          if (isThenable(ret)) ret.then(undefined, (e: unknown) => next(e ?? rejected()));
        } catch (e) {
          next(e);
        }
        return;
      }
      done(err);
    };
    next();
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
  );
}

function rejected(): Error {
  return new Error('Rejected promise');
}

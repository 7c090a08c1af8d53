import type { NextFunction, Request, Response } from 'express';
import { composeMiddleware } from './compose-middleware';

const req = {} as Request;
const res = {} as Response;

/** runs the group and resolves with what it passed to Express's next */
function run(handlers: Parameters<typeof composeMiddleware>[0]): Promise<unknown[]> {
  return new Promise((resolve) => {
    composeMiddleware(handlers)(req, res, ((...args: unknown[]) => resolve(args)) as NextFunction);
  });
}

describe('composeMiddleware', () => {
  it('runs the handlers in order and then passes on with no error', async () => {
    const seen: string[] = [];
    const args = await run([
      (_q: Request, _s: Response, next: NextFunction) => {
        seen.push('a');
        next();
      },
      (_e: unknown, _q: Request, _s: Response, next: NextFunction) => {
        seen.push('error handler');
        next();
      },
      (_q: Request, _s: Response, next: NextFunction) => {
        seen.push('b');
        setImmediate(() => next());
      },
    ]);
    expect(seen).toEqual(['a', 'b']);
    expect(args).toEqual([undefined]);
  });

  it('skips to the next error handler on next(err), a throw or a rejected promise', async () => {
    for (const fail of [
      (_q: Request, _s: Response, next: NextFunction) => next(new Error('boom')),
      () => {
        throw new Error('boom');
      },
      () => Promise.reject(new Error('boom')),
    ]) {
      const seen: string[] = [];
      const args = await run([
        fail,
        (_q: Request, _s: Response, next: NextFunction) => {
          seen.push('skipped');
          next();
        },
        (e: unknown, _q: Request, _s: Response, next: NextFunction) => {
          seen.push(`handled ${(e as Error).message}`);
          next();
        },
        (_q: Request, _s: Response, next: NextFunction) => {
          seen.push('after');
          next();
        },
      ]);
      expect(seen).toEqual(['handled boom', 'after']);
      expect(args).toEqual([undefined]);
    }
  });

  it('passes an unhandled error on to Express, and a rejection without a reason as an error', async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
    const [err] = await run([() => Promise.reject(undefined)]);
    expect(err).toBeInstanceOf(Error);
    const e = new Error('kept');
    expect(await run([(_q: Request, _s: Response, next: NextFunction) => next(e)])).toEqual([e]);
  });

  it("goes on past next('route') as past next(), and leaves the router on next('router')", async () => {
    const seen: string[] = [];
    const after = (_q: Request, _s: Response, next: NextFunction) => {
      seen.push('after');
      next();
    };
    expect(
      await run([(_q: Request, _s: Response, next: NextFunction) => next('route'), after]),
    ).toEqual([undefined]);
    expect(seen).toEqual(['after']);
    expect(
      await run([(_q: Request, _s: Response, next: NextFunction) => next('router'), after]),
    ).toEqual(['router']);
    expect(seen).toEqual(['after']);
  });

  it('stops where a handler answers without calling next', () => {
    const done = jest.fn();
    const after = jest.fn();
    composeMiddleware([() => undefined, after])(req, res, done);
    expect(after).not.toHaveBeenCalled();
    expect(done).not.toHaveBeenCalled();
  });
});

import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';
import { IncomingMessage, ServerResponse, createServer } from 'node:http';

/**
 * Nest's Express adapter over an HTTP server whose requests and responses are
 * made with Express's request and response prototypes. Express gives every
 * request and response those prototypes as it starts handling them
 * (`Object.setPrototypeOf`); made with them from the start, that call changes
 * nothing, and the objects keep one shape from birth instead of changing it on
 * every request. An HTTPS server (never configured by the gateway) is made as
 * Nest makes it.
 */
export class GatewayExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions || options?.forceCloseConnections) {
      super.initHttpServer(options);
      return;
    }
    const app = this.getInstance<Express>();
    this.setHttpServer(
      createServer(
        {
          IncomingMessage: madeWith(IncomingMessage, app.request),
          ServerResponse: madeWith(ServerResponse, app.response),
        },
        app,
      ),
    );
  }
}

/**
 * A constructor for `node:http` that builds `Base` objects with `proto` as their
 * prototype (`proto` inherits from `Base.prototype`, as Express's prototypes do).
 */
function madeWith<T extends typeof IncomingMessage | typeof ServerResponse>(
  Base: T,
  proto: object,
): T {
  function Made(...args: unknown[]): object {
    return Reflect.construct(Base, args, Made) as object;
  }
  Made.prototype = proto;
  return Made as unknown as T;
}

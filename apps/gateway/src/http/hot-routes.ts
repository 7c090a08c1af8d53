import type { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Scope } from '@switchboard/auth';
import type { NextFunction, Response } from 'express';
import { SCOPE_KEY, requireScope } from '../auth/scopes.guard';
import { ChatController } from '../chat/chat.controller';
import { CompletionsController } from '../openai/completions.controller';
import { answerThrown } from './all-exceptions.filter';
import type { GatewayRequest } from './request.types';

interface HotRoute {
  scope: Scope | undefined;
  run(req: GatewayRequest, res: Response): void;
}

/**
 * The two routes a chat product calls for every answer, POST /v1/chat/completions
 * and POST /chat, dispatched to their controllers right after the edge middleware
 * (request id, access log, authentication, JSON body) instead of through Express's
 * route table and Nest's per-route pipeline. The same controller methods run, with
 * the scope their `@RequireScope` names (checked as `ScopesGuard` does) and errors
 * answered as `AllExceptionsFilter` answers them. Any other method or spelling of
 * these paths takes the usual way, where the same routes are also registered.
 */
export function hotRoutesMiddleware(app: INestApplication) {
  const reflector = app.get(Reflector);
  const completions = app.get(CompletionsController);
  const chat = app.get(ChatController);
  // the handlers as Nest registered them (the prototype's functions carry the metadata)
  const scopeOf = (controller: { prototype: object }, method: string) =>
    reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, [
      (controller.prototype as Record<string, () => unknown>)[method],
      controller as unknown as () => unknown,
    ]);
  const routes = new Map<string, HotRoute>([
    [
      '/v1/chat/completions',
      {
        scope: scopeOf(CompletionsController, 'completions'),
        run: (req, res) => completions.completions(req, req.principal!, res, req.body),
      },
    ],
    [
      '/chat',
      {
        scope: scopeOf(ChatController, 'chat'),
        run: (req, res) => chat.chat(req, req.principal!, res, req.body),
      },
    ],
  ]);
  return (req: GatewayRequest, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') return next();
    const route = routes.get(req.path);
    if (!route) return next();
    try {
      if (route.scope) requireScope(req, route.scope);
      route.run(req, res);
    } catch (e) {
      answerThrown(e, req, res);
    }
  };
}

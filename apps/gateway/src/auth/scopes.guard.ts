import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { hasScope, type Scope } from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import type { GatewayRequest } from '../http/request.types';

export const SCOPE_KEY = 'switchboard:scope';
export const RequireScope = (scope: Scope) => SetMetadata(SCOPE_KEY, scope);

/** The principal was resolved by the edge middleware; this checks its scope. */
@Injectable()
export class ScopesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (!scope) return true;
    requireScope(ctx.switchToHttp().getRequest<GatewayRequest>(), scope);
    return true;
  }
}

/** Throws unless the request's principal (set by the edge middleware) has `scope`. */
export function requireScope(req: GatewayRequest, scope: Scope): void {
  if (!req.principal) throw new AppError('unauthorized');
  if (!hasScope(req.principal, scope))
    throw new AppError('insufficient_scope', `This endpoint needs the "${scope}" scope.`);
}

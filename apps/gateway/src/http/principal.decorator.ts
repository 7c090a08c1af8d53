import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import type { GatewayRequest } from './request.types';

/** The caller, set by the edge middleware on every non-public path: `@CurrentPrincipal()`. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Principal => {
    const req = ctx.switchToHttp().getRequest<GatewayRequest>();
    if (!req.principal) throw new AppError('unauthorized');
    return req.principal;
  },
);

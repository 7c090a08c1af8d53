import { AppError } from '@switchboard/common';
import type { NextFunction, Response } from 'express';
import type { RouteInfo } from '../openapi/openapi.document';
import type { GatewayRequest } from './request.types';
import { sendError } from './send-error';

interface PathEntry {
  pattern: RegExp;
  methods: Set<string>;
}

/**
 * A known path with a method it does not serve answers 405 `method_not_allowed`
 * with an `Allow` header (RFC 9110 §15.5.6) instead of a 404 that suggests the
 * path does not exist. Unknown paths fall through to the 404.
 */
export function methodNotAllowedMiddleware(routes: RouteInfo[]) {
  const byPath = new Map<string, PathEntry>();
  for (const r of routes) {
    let e = byPath.get(r.path);
    if (!e) {
      const source = r.path
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      e = { pattern: new RegExp(`^${source}/?$`, 'i'), methods: new Set() };
      byPath.set(r.path, e);
    }
    e.methods.add(r.method.toUpperCase());
    if (r.method === 'get') e.methods.add('HEAD');
  }
  const entries = [...byPath.values()];
  return (req: GatewayRequest, res: Response, next: NextFunction): void => {
    if (req.method === 'OPTIONS') return next();
    const allowed = new Set<string>();
    for (const e of entries) {
      if (!e.pattern.test(req.path)) continue;
      if (e.methods.has(req.method)) return next();
      for (const m of e.methods) allowed.add(m);
    }
    if (!allowed.size) return next();
    const allow = [...allowed].sort().join(', ');
    res.setHeader('Allow', allow);
    sendError(
      res,
      new AppError('method_not_allowed', `${req.method} is not allowed here; allowed: ${allow}.`),
      req.requestId,
    );
  };
}

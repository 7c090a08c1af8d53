import { ConfigError, type AppConfig } from '@switchboard/config';
import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { Logger } from 'pino';

/** Hashed file names never change content: cache them for a year. */
const ASSET_MAX_AGE_MS = 365 * 24 * 3600 * 1000;
const DISCOVERY_TIMEOUT_MS = 3000;

/**
 * Where the built app is: WEB_DIR, else `dist/web` beside the compiled gateway
 * (`dist/apps/gateway/src/web` -> `dist/web`) or, running from source, the
 * repository's `dist/web`.
 */
export function webAppDir(config: AppConfig): string | undefined {
  if (config.web.dir) {
    const dir = resolve(config.web.dir);
    if (!existsSync(join(dir, 'index.html')))
      throw new ConfigError([`WEB_DIR: ${dir} holds no index.html (run npm run build:web)`]);
    return dir;
  }
  const up = resolve(__dirname, '../../../..');
  return [join(up, 'web'), join(up, 'dist', 'web')].find((d) => existsSync(join(d, 'index.html')));
}

/**
 * The Content-Security-Policy of the app: its own scripts and styles only (no
 * inline script, no eval), API calls to this origin, and the OIDC issuer's
 * discovery and token endpoints when browser sign-in is configured.
 */
export function contentSecurityPolicy(connectOrigins: Iterable<string>): string {
  const connect = ["'self'", ...connectOrigins].join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/**
 * Serves the web app at `/` (index: revalidated every time), its hashed
 * assets under `/assets/` (immutable) and `/web-config.json` (the public
 * sign-in settings), before authentication: none of them holds a secret.
 */
export function webAppMiddleware(config: AppConfig, logger: Logger) {
  const dir = webAppDir(config);
  const index = dir ? readFileSync(join(dir, 'index.html')) : undefined;
  if (!index)
    logger.warn(
      { dir: config.web.dir },
      'web app not built: GET / answers 404 until `npm run build` has run',
    );
  const oidc = config.web.oidc ?? null;
  const origins = new Set<string>(oidc ? [new URL(oidc.issuer).origin] : []);
  if (oidc) void discoverTokenOrigin(oidc.issuer, origins, logger);
  const webConfig = JSON.stringify({ oidc });

  const router = express.Router();
  if (index && dir) {
    router.get(['/', '/index.html'], (_req: Request, res: Response) => {
      res.setHeader('Content-Security-Policy', contentSecurityPolicy(origins));
      res.setHeader('Cache-Control', 'no-cache');
      res.type('html').send(index);
    });
    router.use('/assets', precompressed(join(dir, 'assets')));
    router.use(
      '/assets',
      express.static(join(dir, 'assets'), {
        immutable: true,
        maxAge: ASSET_MAX_AGE_MS,
        index: false,
        redirect: false,
      }),
      // an unknown asset is a plain 404, never the app shell
      (req: Request, res: Response, next: NextFunction) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return next();
        res.status(404).type('text').send('Not found');
      },
    );
  }
  router.get('/web-config.json', (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('json').send(webConfig);
  });
  // every API call (POST, PUT, DELETE...) skips the web app's route table
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS')
      router(req, res, next);
    else next();
  };
}

const ENCODINGS = [
  { name: 'br', ext: '.br' },
  { name: 'gzip', ext: '.gz' },
] as const;

/**
 * Serves `<asset>.br` or `<asset>.gz` written by the build when the client
 * accepts that encoding; other requests fall through to the plain file.
 */
function precompressed(assetsDir: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !/^\/[\w.-]+\.(js|css)$/.test(req.path))
      return next();
    const accepted = req.acceptsEncodings(...ENCODINGS.map((e) => e.name), 'identity');
    const enc = ENCODINGS.find((e) => e.name === accepted);
    const file = enc && join(assetsDir, `${req.path.slice(1)}${enc.ext}`);
    res.setHeader('Vary', 'Accept-Encoding');
    if (!enc || !file || !existsSync(file)) return next();
    res.setHeader('Content-Encoding', enc.name);
    res.type(extname(req.path));
    res.sendFile(file, { maxAge: ASSET_MAX_AGE_MS, immutable: true }, (err?: Error) => {
      if (err && !res.headersSent) next();
    });
  };
}

/** Adds the token endpoint's origin (often another host, e.g. Cognito's domain) to connect-src. */
async function discoverTokenOrigin(issuer: string, origins: Set<string>, logger: Logger) {
  try {
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
    const doc = (await res.json()) as { token_endpoint?: string };
    if (doc.token_endpoint) origins.add(new URL(doc.token_endpoint).origin);
  } catch (e) {
    logger.warn({ err: e, issuer }, 'OIDC discovery failed; web sign-in may be blocked by CSP');
  }
}

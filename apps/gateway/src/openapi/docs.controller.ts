import { Controller, Get, Header, Inject, Param, Res, type Type } from '@nestjs/common';
import { AppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import type { Response } from 'express';
import { dirname, join } from 'node:path';
import { ApiDoc } from './api-doc.decorator';
import { buildOpenApiDocument } from './openapi.document';

/** The controllers whose routes the document lists (provided by the app module). */
export const ROUTE_CONTROLLERS = Symbol('ROUTE_CONTROLLERS');

/** The only files of the reference page; served from the swagger-ui-dist package, no CDN. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const SWAGGER_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));

/** Everything the page loads comes from this origin; nothing is fetched elsewhere. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchboard API reference</title>
<link rel="icon" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: the page never calls the public validator
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
`;

/** GET /openapi.json (OpenAPI 3.1, from the routes' own schemas) and the reference page at /docs. */
@Controller()
export class DocsController {
  private readonly document: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(ROUTE_CONTROLLERS) controllers: Type[],
  ) {
    this.document = JSON.stringify(buildOpenApiDocument(controllers, config, { version: '1.0.0' }));
  }

  @Get('openapi.json')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @ApiDoc({
    summary: 'This OpenAPI 3.1 document',
    tag: 'reference',
    public: true,
    responseContentType: 'application/json',
  })
  openapi(): string {
    return this.document;
  }

  @Get('docs')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', DOCS_CSP)
  @ApiDoc({
    summary: 'The API reference page',
    tag: 'reference',
    public: true,
    responseContentType: 'text/html',
  })
  page(): string {
    return PAGE;
  }

  @Get('docs/:asset')
  @ApiDoc({
    summary: 'Files of the reference page',
    tag: 'reference',
    public: true,
    responseContentType: 'application/octet-stream',
  })
  asset(@Param('asset') asset: string, @Res() res: Response): void {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    if (asset === 'init.js') {
      res.type('text/javascript; charset=utf-8').send(INIT);
      return;
    }
    const type = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (!type) throw new AppError('not_found');
    res.type(type).sendFile(join(SWAGGER_DIR, asset));
  }
}

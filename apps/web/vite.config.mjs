// Build of the web app served by the gateway at `/` (see apps/gateway/src/web).
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/**
 * Writes `.br` and `.gz` beside every JS and CSS asset, so the gateway serves
 * them compressed without compressing on each request.
 */
function precompress() {
  return {
    name: 'switchboard-precompress',
    apply: 'build',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (!/\.(js|css)$/.test(file.fileName)) continue;
        const body = Buffer.from(file.type === 'chunk' ? file.code : file.source);
        this.emitFile({
          type: 'asset',
          fileName: `${file.fileName}.br`,
          source: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        });
        this.emitFile({
          type: 'asset',
          fileName: `${file.fileName}.gz`,
          source: gzipSync(body, { level: 9 }),
        });
      }
    },
  };
}

export default defineConfig({
  plugins: [precompress()],
  root: here('.'),
  base: '/',
  publicDir: false,
  resolve: {
    alias: { '@switchboard/client': here('../../libs/client/src/index.ts') },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `npm run dev:web`: the app with hot reload, the API from a running gateway
  server: {
    proxy: Object.fromEntries(
      [
        '/chat',
        '/v1',
        '/me',
        '/admin',
        '/usage',
        '/files',
        '/tags',
        '/assistants',
        '/conversations',
        '/web-config.json',
      ].map((p) => [p, process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080']),
    ),
  },
  build: {
    outDir: process.env.WEB_OUT_DIR ?? here('../../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    // no inline polyfill script: the app's CSP allows no inline scripts
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    sourcemap: false,
  },
});

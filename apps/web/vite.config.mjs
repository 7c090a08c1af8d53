// Build of the web app served by the gateway at `/` (see apps/gateway/src/web).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
    enforce: 'post',
    // after the files are written: their final bytes (every placeholder replaced)
    async writeBundle(options, bundle) {
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const path = join(options.dir, name);
        const body = await readFile(path);
        await writeFile(
          `${path}.br`,
          brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
        await writeFile(`${path}.gz`, gzipSync(body, { level: 9 }));
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

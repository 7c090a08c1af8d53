import { Module, createRequire } from 'node:module';
import { dirname } from 'node:path';

/**
 * `require` through Node's own loader. Some extraction libraries (unpdf) load
 * their bundles with dynamic `import()`, which Jest's vm sandbox rejects; under
 * Jest they are therefore loaded outside the sandbox, as the storage lib does
 * for PGlite. Elsewhere this is plain `require`.
 */
export function nativeRequire(): (id: string) => unknown {
  if (process.env.JEST_WORKER_ID === undefined) return createRequire(__filename);
  const M = Module as unknown as {
    new (id: string): { filename: string; paths: string[]; require(id: string): unknown };
    _nodeModulePaths(dir: string): string[];
  };
  const m = new M(__filename);
  m.filename = __filename;
  m.paths = M._nodeModulePaths(dirname(__filename));
  return (id) => m.require(id);
}

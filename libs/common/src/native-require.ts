import { Module } from 'node:module';
import { dirname } from 'node:path';

interface NodeModule {
  filename: string;
  paths: string[];
  require(id: string): unknown;
}

interface NodeModuleConstructor {
  new (id: string): NodeModule;
  _nodeModulePaths(dir: string): string[];
}

/**
 * A `require` that always goes through Node's own CommonJS loader
 * (`Module.prototype.require`), resolving from `fromFile`'s directory.
 *
 * For dependencies that load their bundles with dynamic `import()` (PGlite,
 * unpdf): a module evaluated inside a vm context, as Jest does, may not use
 * dynamic import, and such a context may also replace `require` and
 * `createRequire`. Node's loader evaluates the dependency in the main context,
 * the same way in every runtime, so there is no runtime-specific branch.
 * Loaded modules share Node's module cache with plain `require`.
 */
export function nativeRequire(fromFile: string): (id: string) => unknown {
  const NodeModule = Module as unknown as NodeModuleConstructor;
  const loader = new NodeModule(fromFile);
  loader.filename = fromFile;
  loader.paths = NodeModule._nodeModulePaths(dirname(fromFile));
  return (id) => loader.require(id);
}

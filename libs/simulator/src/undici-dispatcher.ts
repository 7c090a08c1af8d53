const DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * Makes `@google/genai` usable under Jest. Its Node build dispatches through
 * `globalThis[Symbol.for('undici.globalDispatcher.1')]`, which Node sets on the
 * host realm only; Jest's per-file sandbox has its own `globalThis`, so every
 * call fails with "Undici globalDispatcher is not available". Copying the host
 * dispatcher into the sandbox fixes it. A no-op outside such a sandbox.
 */
export function exposeHostUndiciDispatcher(): void {
  const sandbox = globalThis as unknown as Record<symbol, unknown>;
  if (sandbox[DISPATCHER] !== undefined || typeof fetch !== 'function') return;
  // `fetch` comes from the host realm, so its Function constructor evaluates there.
  const hostFunction = (fetch as unknown as { constructor: new (body: string) => () => unknown })
    .constructor;
  const host = new hostFunction('return globalThis')() as Record<symbol, unknown>;
  if (host[DISPATCHER] === undefined) new Headers(); // triggers Node's lazy undici setup
  if (host[DISPATCHER] !== undefined) sandbox[DISPATCHER] = host[DISPATCHER];
}

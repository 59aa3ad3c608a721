/**
 * What the host offers, asked without an import statement: a bundler never sees a `node:`
 * import in the core, and the core loads unchanged in a browser, a worker or Node.
 */

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?(id: string): unknown;
}

const host = (globalThis as { process?: NodeProcess }).process;

/** True under Node.js. */
export const isNode = host?.versions?.node !== undefined;

/**
 * A Node built-in module (`node:os`, `node:worker_threads`), or null outside Node. Through
 * `process.getBuiltinModule` (Node ≥ 20.16): synchronous, so no top-level await, and no
 * import for a bundler to resolve.
 */
export function nodeBuiltin<T>(id: `node:${string}`): T | null {
  return (host?.getBuiltinModule?.(id) as T | undefined) ?? null;
}

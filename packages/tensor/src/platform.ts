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

interface WebHost {
  Worker?: unknown;
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
  WorkerGlobalScope?: unknown;
  navigator?: { hardwareConcurrency?: number };
}
const web = globalThis as WebHost;

/**
 * Why this host cannot run the CPU backend's threads, or null when it can: Node's
 * worker_threads, or Web Workers sharing memory, which a browser allows only in a
 * cross-origin isolated page (or a worker of one).
 */
export function threadsUnavailable(): string | null {
  if (isNode) return nodeBuiltin('node:worker_threads') === null ? 'this Node has no worker_threads' : null;
  if (typeof web.Worker !== 'function') return 'this host has no Web Workers';
  if (web.crossOriginIsolated !== true || typeof web.SharedArrayBuffer !== 'function') {
    return 'the page is not cross-origin isolated, so it has no SharedArrayBuffer to share with Web Workers (serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  return null;
}

/** The host's cores: Node's availableParallelism, a browser's navigator.hardwareConcurrency. */
export function hostCores(): number {
  if (isNode) return nodeBuiltin<typeof import('node:os')>('node:os')?.availableParallelism() ?? 1;
  return web.navigator?.hardwareConcurrency ?? 1;
}

/** Whether this thread may block on Atomics.wait: Node and workers may, a page's main thread may not. */
export const canBlock = isNode || typeof web.WorkerGlobalScope === 'function';

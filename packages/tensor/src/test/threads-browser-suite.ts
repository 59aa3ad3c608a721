/**
 * The CPU backend's threads in a browser, bundled by esbuild for threads.browser.test.ts:
 * `__threads()` on the page, or a dedicated worker's answer to any message (the same
 * bundle started as a module worker), says whether threads are on by default, what
 * `setCpuThreads(2)` says, and whether a product split over two threads (Web Workers
 * sharing the kernel's memory) equals the one-thread product.
 */
import { getCpuThreads, setCpuThreads } from '../index.js';
import { WasmEngine } from '../backend/cpu/wasm/engine.js';
import { engineGemm } from '../backend/cpu/wasm/gemm.js';

export interface ThreadsResult {
  where: 'page' | 'worker';
  isolated: boolean;
  defaultThreads: number;
  setError: string | null;
  /** Two threads (every product threaded) against one, on the same operands: bit for bit. */
  equal?: boolean;
  threadedCalls?: number;
}

async function run(where: ThreadsResult['where']): Promise<ThreadsResult> {
  const r: ThreadsResult = { where, isolated: globalThis.crossOriginIsolated === true, defaultThreads: getCpuThreads(), setError: null };
  try {
    setCpuThreads(2);
  } catch (e) {
    r.setError = (e as Error).message;
    return r;
  }
  const [m, n, k] = [70, 96, 130];
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.7));
  const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.3));
  const shape = [{ mr: 2, nr: 16, fma: false }];
  const one = new WasmEngine(shape, 1);
  const two = new WasmEngine(shape, 2, 0); // threaded from the first multiply-add
  for (let t = 0; !two.ready(); t++) {
    if (t > 200) throw new Error('the gemm Web Worker did not start in 10 s');
    await new Promise((res) => setTimeout(res, 50));
  }
  const product = (g: WasmEngine) => {
    const c = new Float32Array(m * n);
    for (let rep = 0; rep < 5; rep++) engineGemm(g, 0)(m, n, k, a, 0, k, 1, b, 0, n, 1, c, 0, null);
    return c;
  };
  const c1 = product(one);
  const c2 = product(two);
  r.equal = c1.every((v, i) => Object.is(v, c2[i]));
  r.threadedCalls = two.threadedCalls;
  return r;
}

const scope = globalThis as unknown as { WorkerGlobalScope?: unknown; postMessage(v: unknown): void; onmessage: unknown; __threads?: unknown };
if (typeof scope.WorkerGlobalScope === 'function') {
  scope.onmessage = async () => scope.postMessage(await run('worker').catch((e: Error) => ({ where: 'worker', error: e.message })));
} else {
  scope.__threads = () => run('page');
}

import { threadsUnavailable } from '../../platform.js';
import type { Gemm } from '../reference/matmul.js';
import { setHeap, type Heap } from '../reference/pool.js';
import { availableKernels, defaultThreads, getEngine, inEngineMemory, type MatmulKernel, type WasmEngine } from './wasm/index.js';

/**
 * The CPU backend's settings — which matmul kernel, how many threads — and the WebAssembly
 * engine they select, shared by every SIMD kernel of the backend.
 */

/** The kernel chosen with setCpuMatmul; until then the fastest available at the first product. */
let chosen: MatmulKernel | undefined;
let threads = defaultThreads();
/** Compiled (and its worker threads started) at the first kernel that needs it, not at import. */
let current: { engine: WasmEngine; gemm: Gemm | null } | null | undefined;

function select(kernel: MatmulKernel, n: number): { engine: WasmEngine; gemm: Gemm | null } | null {
  setHeap(heap);
  if (kernel !== 'typescript') return getEngine(kernel, n);
  // the TypeScript matmul; the other kernels keep their SIMD
  const simd = availableKernels().find((k) => k !== 'typescript');
  return simd === undefined ? null : { engine: getEngine(simd, n).engine, gemm: null };
}

/**
 * Picks the float32 matmul kernel of the CPU backend: the WebAssembly SIMD kernel (with
 * relaxed-simd FMA where the engine has it; the default) or the plain TypeScript reference.
 * float64 products always use the reference.
 */
export function setCpuMatmul(k: MatmulKernel): void {
  current = select(k, threads);
  chosen = k;
}

/**
 * Threads for the large float32 kernels (products, attention, GELU, layer norm): threads
 * sharing the kernels' WebAssembly memory — Node's worker threads, or Web Workers in a
 * cross-origin isolated page (and in its workers). Default: every core, at most 4, where the
 * host has threads; else one. `setCpuThreads(1)` is one core. Elsewhere more than one is an
 * error saying why.
 */
export function setCpuThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setCpuThreads: expected a positive integer, got ${n}`);
  const why = n > 1 ? threadsUnavailable() : null;
  if (why !== null) throw new Error(`setCpuThreads(${n}): ${why}; the CPU backend runs on one thread here`);
  current = select(getCpuMatmul(), n);
  threads = n;
}

export function getCpuThreads(): number {
  return threads;
}

export function getCpuMatmul(): MatmulKernel {
  return chosen ?? availableKernels()[0]!;
}

/** The SIMD gemm of the chosen kernel, or null for the TypeScript one (or no SIMD). */
export function simdGemm(): Gemm | null {
  if (current === undefined) current = select(getCpuMatmul(), threads);
  return current?.gemm ?? null;
}

/** The engine of the SIMD kernels, or null where WebAssembly SIMD is missing. */
export function simdEngine(): WasmEngine | null {
  if (current === undefined) current = select(getCpuMatmul(), threads);
  return current?.engine ?? null;
}

/** The engine each array of the heap came from (the engine changes with the settings). */
const homes = new WeakMap<object, WasmEngine>();

/** The pool's heap (../reference/pool.ts): the current engine's memory. */
const heap: Heap = {
  alloc(n) {
    const engine = simdEngine();
    const a = engine?.alloc(n) ?? null;
    if (a !== null) homes.set(a, engine!);
    return a;
  },
  release: (a) => homes.get(a)?.release(a) ?? false,
  owns: (a) => homes.get(a)?.owns(a) ?? false,
  holds: (a) => inEngineMemory(a),
};

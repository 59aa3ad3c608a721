import type { Gemm } from '../../reference/matmul.js';
import { hostCores, threadsUnavailable } from '../../../platform.js';
import { features } from './features.js';
import { WasmEngine } from './engine.js';
import { engineGemm } from './gemm.js';

export { features, type WasmFeatures } from './features.js';
export type { WasmEngine } from './engine.js';

/** The float32 matmul kernels this engine can run, fastest first. */
export type MatmulKernel = 'wasm-relaxed-simd' | 'wasm-simd' | 'typescript';

export function availableKernels(): MatmulKernel[] {
  return [...(features.relaxedSimd ? ['wasm-relaxed-simd' as const] : []), ...(features.simd ? ['wasm-simd' as const] : []), 'typescript'];
}

/**
 * The cores to use by default: all of them, at most 4, where the host can run threads
 * (Node; a cross-origin isolated page or its workers); one elsewhere.
 */
export function defaultThreads(): number {
  return threadsUnavailable() === null ? Math.max(1, Math.min(4, hostCores())) : 1;
}

const engines = new Map<string, { engine: WasmEngine; gemm: Gemm }>();

/** Whether `x` views the memory of one of the engines. */
export function inEngineMemory(x: ArrayBufferView): boolean {
  for (const { engine } of engines.values()) if (engine.offsetOf(x) >= 0) return true;
  return false;
}

/**
 * The engine of a WebAssembly kernel and its gemm, compiled once per thread count and kept
 * with its memory and workers. V8 gives wasm 15 usable vector registers (xmm15 is its
 * scratch); of the tiles that fit, 2×16 (8 accumulators, 4 vectors of B, one splat)
 * measured fastest, 42.8 GFLOP/s kernel-only at 512³ against 41.7 for 3×12 and 38.4 for
 * 4×8, alternated in one run. Outputs narrower than 128 that 16 does not divide use 4×8,
 * which pads less.
 */
export function getEngine(kernel: Exclude<MatmulKernel, 'typescript'>, threads: number): { engine: WasmEngine; gemm: Gemm } {
  if (!availableKernels().includes(kernel))
    throw new Error(`setCpuMatmul: kernel "${kernel}" is not available here; available: ${availableKernels().join(', ')}`);
  const key = `${kernel}/${threads}`;
  let found = engines.get(key);
  if (found === undefined) {
    const fma = kernel === 'wasm-relaxed-simd';
    const engine = new WasmEngine(
      [
        { mr: 2, nr: 16, fma },
        { mr: 4, nr: 8, fma },
      ],
      threads,
    );
    const wide = engineGemm(engine, 0);
    const narrow = engineGemm(engine, 1);
    found = { engine, gemm: (m, n, ...rest) => (n % 16 === 0 || n >= 128 ? wide : narrow)(m, n, ...rest) };
    engines.set(key, found);
  }
  return found;
}

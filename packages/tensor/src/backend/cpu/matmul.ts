import type { CpuKernel } from '../backend.js';
import { threadsUnavailable } from '../../platform.js';
import { batchedMatmul, gemmReference, type Gemm } from '../reference/matmul.js';
import { availableKernels, defaultThreads, getGemm, type MatmulKernel } from './wasm/index.js';

/** The kernel chosen with setCpuMatmul; until then the fastest available at the first product. */
let chosen: MatmulKernel | undefined;
let threads = defaultThreads();
/** Compiled (and its worker threads started) at the first float32 product, not at import. */
let fastGemm: Gemm | null | undefined;

/**
 * Picks the float32 matmul kernel of the CPU backend: the WebAssembly SIMD kernel (with
 * relaxed-simd FMA where the engine has it; the default) or the plain TypeScript reference.
 * float64 products always use the reference.
 */
export function setCpuMatmul(k: MatmulKernel): void {
  fastGemm = getGemm(k, threads);
  chosen = k;
}

/**
 * Threads for large float32 products: threads sharing the kernel's WebAssembly memory —
 * Node's worker threads, or Web Workers in a cross-origin isolated page (and in its
 * workers). Default: every core, at most 4, where the host has threads; else one.
 * `setCpuThreads(1)` is one core. Elsewhere more than one is an error saying why.
 */
export function setCpuThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setCpuThreads: expected a positive integer, got ${n}`);
  const why = n > 1 ? threadsUnavailable() : null;
  if (why !== null) throw new Error(`setCpuThreads(${n}): ${why}; the CPU backend runs on one thread here`);
  fastGemm = getGemm(getCpuMatmul(), n);
  threads = n;
}

export function getCpuThreads(): number {
  return threads;
}

export function getCpuMatmul(): MatmulKernel {
  return chosen ?? availableKernels()[0]!;
}

/** float32 products on the WebAssembly SIMD gemm (on worker threads when large), float64 ones on the reference. */
export const matmul: CpuKernel<'matmul'> = (a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual) => {
  if (dtype === 'float32' && fastGemm === undefined) fastGemm = getGemm(getCpuMatmul(), threads);
  const gemm = dtype === 'float32' && fastGemm != null ? fastGemm : gemmReference;
  return batchedMatmul(gemm, a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
};
